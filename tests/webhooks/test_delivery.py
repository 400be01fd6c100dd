"""Deliveries to a real HTTP receiver: signature, retries with backoff, outages, give-up, SSRF at send time."""
import json
import socket
import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import make_ticket
from tests.webhooks.conftest import Receiver, make_due, make_webhook, verify_signature
from tickets import services
from tickets.models import Event
from tickets.workflow import EventKind
from webhooks import delivery
from webhooks.delivery import attempt, on_event, payload, retry_due, sign
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.django_db


def queue(webhook, event) -> Delivery:
    """What the outbox subscriber writes, without sending (no on_commit callbacks run here)."""
    return Delivery.objects.create(webhook=webhook, event=event)


@pytest.fixture
def event(ticket):
    return Event.objects.get(ticket=ticket, kind=EventKind.CREATED)


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    # A fixed vector, so a receiver written in another language can check its implementation:
    # HMAC-SHA256(key=b"secret", msg=b'1700000000.{"a":1}').
    assert sign("secret", 1700000000, b'{"a":1}') == "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"


def test_a_delivery_arrives_signed_with_headers_and_payload(receiver, event, mona):
    webhook = make_webhook(receiver.url, user=mona)
    item = queue(webhook, event)

    assert attempt(item.pk) == Delivery.Status.DELIVERED

    [got] = receiver.received
    assert got.path == "/hook"
    assert verify_signature(webhook.secret, got.headers, got.body)
    assert not verify_signature("another-secret", got.headers, got.body)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Tierdesk-Webhooks/1"
    assert got.headers["x-tierdesk-event"] == "created"
    assert got.headers["x-tierdesk-delivery"] == str(item.pk)
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"

    body = json.loads(got.body)
    assert body == payload(event)
    assert set(body) == {"id", "kind", "at", "ticket", "actor", "actor_role", "from_status", "to_status",
                         "from_tier", "to_tier", "reason", "data"}
    assert body["id"] == event.pk
    assert body["kind"] == "created"
    assert body["ticket"] == {"id": event.ticket_id, "reference": f"HD-{event.ticket_id:06d}"}
    assert body["actor"] == "dana@example.com"  # opened by the customer
    assert body["actor_role"] == "customer"
    assert (body["from_status"], body["to_status"]) == ("", "new")
    assert (body["from_tier"], body["to_tier"]) == (None, "L1")  # tiers by code
    assert datetime.fromisoformat(body["at"]) == event.at

    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.DELIVERED, 1)
    assert item.delivered_at is not None
    [log] = Attempt.objects.filter(delivery=item)
    assert (log.status_code, log.error) == (200, "")


def test_payload_names_tiers_by_code_and_agents_by_username(ticket, as_alice, alice):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    taken = Event.objects.get(ticket=ticket, kind=EventKind.TAKEN)
    data = payload(taken)
    assert data["actor"] == "alice"
    assert data["actor_role"] == "agent"
    assert (data["from_status"], data["to_status"]) == ("new", "diagnosing")
    json.dumps(data)  # JSON-able as is


def test_two_failures_then_success_arrives_once_with_doubling_backoff(receiver, event, mona, fast_retries):
    receiver.answers = [500, 500, 200]
    item = queue(make_webhook(receiver.url, user=mona), event)

    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.PENDING, 1)
    first_wait = item.next_attempt_at - Attempt.objects.filter(delivery=item).last().at
    assert timedelta(seconds=10) <= first_wait < timedelta(seconds=12)
    assert retry_due() == 0, "not due yet: nothing is sent before the backoff passed"

    make_due(item)
    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.PENDING, 2)
    second_wait = item.next_attempt_at - Attempt.objects.filter(delivery=item).last().at
    assert timedelta(seconds=20) <= second_wait < timedelta(seconds=22)

    make_due(item)
    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.DELIVERED, 3)

    assert [got.answered for got in receiver.received] == [500, 500, 200]
    assert list(Attempt.objects.filter(delivery=item).values_list("status_code", "error")) == [
        (500, "HTTP 500"), (500, "HTTP 500"), (200, ""),
    ]
    # The same event each time, under the same delivery id: receivers deduplicate on it.
    assert len({got.body for got in receiver.received}) == 1
    assert {got.headers["x-tierdesk-delivery"] for got in receiver.received} == {str(item.pk)}

    make_due(item)
    assert retry_due() == 0
    assert attempt(item.pk) is None
    assert len(receiver.received) == 3


def test_backoff_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert delivery.backoff(9).total_seconds() == 2560
    assert delivery.backoff(10).total_seconds() == 3600
    assert delivery.backoff(1000).total_seconds() == 3600


def test_a_receiver_that_is_down_gets_it_once_it_listens(down_receiver, event, mona, fast_retries):
    item = queue(make_webhook(down_receiver.url, user=mona), event)

    before = timezone.now()
    assert attempt(item.pk) == Delivery.Status.PENDING
    make_due(item)
    assert attempt(item.pk) == Delivery.Status.PENDING

    item.refresh_from_db()
    assert item.attempts == 2
    assert item.next_attempt_at > before + timedelta(seconds=19)
    errors = list(Attempt.objects.filter(delivery=item).values_list("status_code", "error"))
    assert errors == [(None, "Connection failed: Connection refused.")] * 2

    down_receiver.start()
    make_due(item)
    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.DELIVERED, 3)
    assert len(down_receiver.received) == 1


def test_after_max_attempts_the_delivery_fails(receiver, event, mona, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [503] * 10
    item = queue(make_webhook(receiver.url, user=mona), event)

    for expected in ["pending", "pending", "failed"]:
        make_due(item)
        assert attempt(item.pk) == expected

    make_due(item)
    assert attempt(item.pk) is None
    assert retry_due() == 0
    item.refresh_from_db()
    assert (item.status, item.attempts) == (Delivery.Status.FAILED, 3)
    assert len(receiver.received) == 3


def test_a_private_target_is_refused_at_delivery_time(receiver, event, mona, settings):
    # Registered while allowed (or DNS changed since): the check runs again before every attempt.
    item = queue(make_webhook(receiver.url, user=mona), event)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    assert attempt(item.pk) == Delivery.Status.PENDING
    assert receiver.received == []
    [log] = Attempt.objects.filter(delivery=item)
    assert log.status_code is None
    assert log.error == "Target refused: The host '127.0.0.1' resolves to 127.0.0.1, a loopback address; refused."


def test_the_checked_address_is_the_one_connected_to(receiver, event, mona, monkeypatch):
    # The name is resolved once, by the SSRF check, and the request goes to that
    # address: here a name only our resolver knows, so a second lookup would fail.
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1", *args, **kwargs) if host == "hooks.invalid" else real(host, *args, **kwargs)

    monkeypatch.setattr(delivery.socket, "getaddrinfo", fake)
    item = queue(make_webhook(f"http://hooks.invalid:{receiver.port}/in?x=1", user=mona), event)

    assert attempt(item.pk) == Delivery.Status.DELIVERED
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.invalid:{receiver.port}"
    assert got.path == "/in?x=1"


def test_errors_never_store_the_url_or_the_secret(down_receiver, event, mona):
    webhook = make_webhook(down_receiver.url + "?token=s3cr3t-in-url", user=mona)
    item = queue(webhook, event)
    attempt(item.pk)
    [log] = Attempt.objects.filter(delivery=item)
    assert "s3cr3t-in-url" not in log.error
    assert webhook.secret not in log.error
    assert "127.0.0.1" not in log.error


def test_a_slow_receiver_is_a_timeout(event, mona, private_targets_allowed, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    # Listens (the kernel accepts the connection) but never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        item = queue(make_webhook(f"http://127.0.0.1:{silent.getsockname()[1]}/", user=mona), event)
        assert attempt(item.pk) == Delivery.Status.PENDING
    finally:
        silent.close()
    [log] = Attempt.objects.filter(delivery=item)
    assert log.error == "Timeout: no answer within 1 s."
    assert log.duration_ms >= 900


def test_redirects_are_not_followed(receiver, event, mona):
    receiver.answers = [302]
    item = queue(make_webhook(receiver.url, user=mona), event)
    assert attempt(item.pk) == Delivery.Status.PENDING
    assert len(receiver.received) == 1
    assert Attempt.objects.get(delivery=item).status_code == 302


def test_inactive_webhooks_get_nothing(receiver, event, mona):
    item = queue(make_webhook(receiver.url, user=mona, is_active=False), event)
    assert attempt(item.pk) is None
    assert retry_due() == 0
    assert receiver.received == []


# --- queueing ------------------------------------------------------------------------


def test_kinds_filter(receiver, event, mona):
    escalations = make_webhook(receiver.url, user=mona, kinds=["escalated"])
    everything = make_webhook(receiver.url, user=mona)
    created_only = make_webhook(receiver.url, user=mona, kinds=["created", "closed"])
    make_webhook(receiver.url, user=mona, is_active=False)

    on_event(event)

    assert not Delivery.objects.filter(webhook=escalations).exists()
    assert set(Delivery.objects.values_list("webhook_id", flat=True)) == {everything.pk, created_only.pk}


def test_an_event_is_queued_once_per_webhook(receiver, event, mona, django_capture_on_commit_callbacks):
    make_webhook(receiver.url, user=mona)
    with django_capture_on_commit_callbacks() as callbacks:
        on_event(event)
        on_event(event)  # the outbox ran the subscribers again
    assert Delivery.objects.count() == 1
    assert len(callbacks) == 1


def test_a_broker_outage_never_raises(receiver, event, mona, monkeypatch, django_capture_on_commit_callbacks):
    from webhooks import tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver, "delay", down)
    make_webhook(receiver.url, user=mona)
    with django_capture_on_commit_callbacks(execute=True):
        on_event(event)
    item = Delivery.objects.get()
    assert item.status == Delivery.Status.PENDING
    assert receiver.received == []

    assert retry_due() == 1  # the sweep finds it
    assert len(receiver.received) == 1


def test_the_outbox_delivers_a_new_ticket_to_the_receiver(
    receiver, mona, settings, django_capture_on_commit_callbacks
):
    settings.TIERDESK_EVENT_HANDLERS = ["webhooks.delivery.on_event"]
    webhook = make_webhook(receiver.url, user=mona)

    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(subject="VPN down")

    [got] = receiver.received
    assert verify_signature(webhook.secret, got.headers, got.body)
    body = json.loads(got.body)
    assert body["kind"] == "created"
    assert body["ticket"]["id"] == ticket.pk
    item = Delivery.objects.get()
    assert item.status == Delivery.Status.DELIVERED
    assert Event.objects.get(pk=item.event_id).dispatched_at is not None


# --- concurrency ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_never_send_one_delivery_twice(private_targets_allowed, mona):
    """While one worker is inside the HTTP call, another finds the delivery locked and sends nothing."""
    receiver = Receiver()
    inside, release = threading.Event(), threading.Event()
    original = receiver.server.RequestHandlerClass.do_POST

    def slow_post(handler):
        inside.set()
        release.wait(10)
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = slow_post
    receiver.start()
    try:
        ticket = make_ticket()
        item = queue(make_webhook(receiver.url, user=mona), Event.objects.get(ticket=ticket))
        results = {}

        def worker():
            try:
                results["first"] = attempt(item.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=worker)
        thread.start()
        assert inside.wait(10)
        results["second"] = attempt(item.pk)  # while the first holds the row lock
        assert retry_due() == 0
        release.set()
        thread.join(10)
    finally:
        release.set()
        receiver.stop()

    assert results == {"first": Delivery.Status.DELIVERED, "second": None}
    assert len(receiver.received) == 1
