"""Redis down: tickets are still created everywhere, and what they set off is delivered once Redis is back.

Redis is both the broker and the cache of the site. Gunicorn, a Celery worker
and beat run on a private redis-server and the test database; the test stops
Redis, creates tickets through the portal, the desk and the API (the user must
see success), checks that nothing could be sent meanwhile, starts Redis again
and waits for the stored outbox to be drained: every customer e-mail reaches a
real SMTP server and every webhook a real HTTP receiver.
"""
import re
import time

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from rest_framework.authtoken.models import Token

from notifications.models import Notification
from tests.integration.conftest import app_env, start_beat, start_gunicorn, start_worker, wait_until
from tests.notifications.conftest import SMTPServer
from tests.webhooks.conftest import Receiver, make_webhook, verify_signature
from tickets.models import Event, Ticket
from tickets.workflow import EventKind
from webhooks.models import Delivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# A request while Redis is down pays one failed publish (about half a second) and a refused cache connection.
PATIENCE_SECONDS = 5


def csrf_of(http: requests.Session, url: str) -> str:
    answer = http.get(url, timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    return CSRF_INPUT.search(answer.text).group(1)


def timed(send):
    started = time.monotonic()
    answer = send()
    return answer, time.monotonic() - started


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


def test_tickets_are_created_while_redis_is_down_and_their_mails_and_webhooks_follow_once_it_is_back(
    redis_server, processes, tmp_path, collected_static, alice, mona, receiver, smtp
):
    # The test settings hash with MD5, which the site does not accept: Alice's password in the production form.
    hasher = PBKDF2PasswordHasher()
    alice.password = hasher.encode("pw", hasher.salt())
    alice.save(update_fields=["password"])
    webhook = make_webhook(receiver.url, user=mona, kinds=[EventKind.CREATED])
    token = Token.objects.create(user=mona).key
    env = app_env(
        tmp_path,
        REDIS_URL=redis_server.url,
        WEBHOOK_ALLOW_PRIVATE_TARGETS=1,
        WEBHOOK_RETRY_SWEEP_SECONDS=1,
        NOTIFY_RETRY_SWEEP_SECONDS=1,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp.port,
        EMAIL_TIMEOUT=5,
    )
    base = start_gunicorn(processes, env, collected_static)
    start_worker(processes, env)
    start_beat(processes, env)
    wait_until(lambda: " ready." in processes.log("worker"), 60, tmp_path)

    redis_server.stop()

    # The portal: a customer reports a problem.
    portal = requests.Session()
    token_field = csrf_of(portal, f"{base}/support/")
    answer, took = timed(lambda: portal.post(f"{base}/support/", timeout=15, data={
        "name": "Erin", "email": "erin@example.com", "subject": "Portal: printer offline",
        "description": "It shows offline since this morning.", "website": "", "csrfmiddlewaretoken": token_field,
    }))
    assert answer.status_code == 201, answer.text[:500]
    assert "HD-" in answer.text and took < PATIENCE_SECONDS

    # The desk: Alice signs in and logs a phone call.
    desk = requests.Session()
    token_field = csrf_of(desk, f"{base}/accounts/login/")
    answer = desk.post(f"{base}/accounts/login/", timeout=15, allow_redirects=False,
                       data={"username": "alice", "password": "pw", "csrfmiddlewaretoken": token_field})
    assert answer.status_code == 302, answer.text[:500]
    token_field = csrf_of(desk, f"{base}/desk/new/")
    answer, took = timed(lambda: desk.post(f"{base}/desk/new/", timeout=15, allow_redirects=False, data={
        "requester_email": "frank@example.com", "requester_name": "Frank", "subject": "Desk: VPN drops",
        "description": "Called in: the VPN drops every ten minutes.", "priority": "P3", "call_started_at": "",
        "csrfmiddlewaretoken": token_field,
    }))
    assert answer.status_code == 302 and "/desk/t/" in answer.headers["Location"], answer.text[:500]
    assert took < PATIENCE_SECONDS

    # The API: an integration opens a ticket (through the throttles, which live in the cache).
    answer, took = timed(lambda: requests.post(
        f"{base}/api/v1/tickets/", timeout=15, headers={"Authorization": f"Token {token}"},
        json={"subject": "API: disk full", "description": "Monitoring: /var is full.",
              "requester": {"email": "grace@example.com", "name": "Grace"}},
    ))
    assert answer.status_code == 201, answer.text[:500]
    assert took < PATIENCE_SECONDS

    subjects = {"Portal: printer offline": "erin@example.com", "Desk: VPN drops": "frank@example.com",
                "API: disk full": "grace@example.com"}
    tickets = list(Ticket.objects.filter(subject__in=subjects))
    assert len(tickets) == 3
    created = list(Event.objects.filter(ticket__in=tickets, kind=EventKind.CREATED))
    assert len(created) == 3
    time.sleep(2)
    # Nothing could reach a worker: the events wait in the stored outbox, nothing was mailed or posted.
    assert not Event.objects.filter(ticket__in=tickets, dispatched_at__isnull=False).exists()
    assert not smtp.received and not receiver.received

    redis_server.start()  # an empty Redis: every message published before the outage is gone

    def all_delivered():
        return (
            not Event.objects.filter(ticket__in=tickets, dispatched_at__isnull=True).exists()
            and Notification.objects.filter(event__in=created, status=Notification.Status.SENT).count() == 3
            and Delivery.objects.filter(event__in=created, status=Delivery.Status.DELIVERED).count() == 3
        )

    wait_until(all_delivered, 90, tmp_path)
    # Every customer got the "we have your ticket" mail, once.
    for address in subjects.values():
        assert len(smtp.to(address)) == 1, (address, [got.rcpt_tos for got in smtp.received])
    # Every event reached the receiver, signed, under the id of its delivery.
    deliveries = {d.event_id: d.pk for d in Delivery.objects.filter(webhook=webhook)}
    assert set(deliveries) == {event.pk for event in created}
    for got in receiver.received:
        assert verify_signature(webhook.secret, got.headers, got.body)
    seen = {(int(got.headers["x-tierdesk-delivery"]), got.body.decode()) for got in receiver.received}
    assert {delivery_id for delivery_id, _body in seen} == set(deliveries.values())
    for delivery_id, body in seen:
        event_id = next(event for event, pk in deliveries.items() if pk == delivery_id)
        assert f'"id":{event_id},' in body

    # The site found the broker again by itself: a new ticket's event is published at once, not left to the drain.
    answer = requests.post(
        f"{base}/api/v1/tickets/", timeout=15, headers={"Authorization": f"Token {token}"},
        json={"subject": "API: after the outage", "description": "Back to normal.",
              "requester": {"email": "heidi@example.com", "name": "Heidi"}},
    )
    assert answer.status_code == 201, answer.text[:500]
    wait_until(lambda: len(smtp.to("heidi@example.com")) == 1, 30, tmp_path)
    after = Event.objects.get(ticket_id=answer.json()["id"], kind=EventKind.CREATED)
    unpublished = re.findall(r"Broker unavailable; events \[([\d, ]+)\]", processes.log("gunicorn"))
    assert len(unpublished) == 3  # one message per request during the outage
    assert str(after.pk) not in {event_id.strip() for found in unpublished for event_id in found.split(",")}
