"""`/metrics`: private (a bearer token or an allowed address), django-prometheus's counters and our own gauges."""
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.backends.utils import CursorWrapper
from django.db.utils import OperationalError
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_ticket
from tests.helpdesk.test_settings import ROOT, run_manage
from tickets import escalation, outbox, services
from tickets.models import Event, Ticket

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789abcdef"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return TOKEN


def scrape(client, token=TOKEN, **extra):
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def samples(response) -> dict:
    """{(name, sorted labels): value} of every sample on the page (parsed as Prometheus parses it)."""
    assert response.status_code == 200, response.content
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# --- who may read it ---------------------------------------------------------------------------------------


def test_metrics_do_not_exist_while_neither_a_token_nor_addresses_are_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_metrics_refuse_a_request_without_the_right_token(client, token, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"django_http" not in response.content and b"tierdesk_" not in response.content


def test_the_token_is_not_taken_from_the_query_string(client, token):
    assert client.get("/metrics", {"token": TOKEN, "access_token": TOKEN}).status_code == 401


def test_metrics_are_served_with_the_token(client, token):
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert "django_http_requests_total_by_method_total" in body
    assert "django_http_responses_total_by_status_total" in body
    for gauge in ("tierdesk_open_tickets", "tierdesk_outbox_pending_events", "tierdesk_outbox_oldest_pending_seconds",
                  "tierdesk_sla_checks_due", "tierdesk_sla_oldest_due_seconds", "tierdesk_broker_queue_messages"):
        assert f"# TYPE {gauge} gauge" in body


def test_metrics_refuse_post(client, token):
    # A POST without a CSRF token never reaches the view; with the test client's CSRF checks off it is a 405.
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_allowed_addresses_are_matched_against_the_peer_only(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16", "192.0.2.7"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="10.2.0.1")
    assert refused.status_code == 403 and b"tierdesk_" not in refused.content
    # X-Forwarded-For is written by the client: it never opens the page.
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403


def test_with_both_set_either_the_token_or_the_address_opens_the_page(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape(client, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1").status_code == 401


def test_metrics_are_exempt_from_the_https_redirect_like_the_probes(client, token, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/desk/").status_code == 301
    assert scrape(client).status_code == 200


@pytest.mark.parametrize(
    "env,message",
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 32 characters"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/8,not-an-address"}, "'not-an-address' is not an address or a network"),
    ],
)
def test_a_weak_token_or_a_malformed_address_stops_the_process(env, message):
    result = run_manage("check", DEBUG="1", **env)
    assert result.returncode != 0
    assert message in result.stderr


# --- what it reports ---------------------------------------------------------------------------------------


def test_request_counters_count_the_requests_served(client, token):
    before = samples(scrape(client))
    key = ("django_http_responses_total_by_status_view_method_total",
           (("method", "GET"), ("status", "200"), ("view", "healthz")))
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page/")
    after = samples(scrape(client))
    assert after[key] - before.get(key, 0) == 3
    not_found = ("django_http_responses_total_by_status_total", (("status", "404"),))
    assert after[not_found] - before.get(not_found, 0) == 1


def test_open_tickets_are_counted_per_tier_and_status(client, token, as_alice, as_mona):
    make_ticket()
    taken = make_ticket()
    services.ticket_take(actor=as_alice, ticket_id=taken.pk)
    escalated = make_ticket()
    services.ticket_escalate(actor=as_mona, ticket_id=escalated.pk, reason="needs L2")
    resolved_later = make_ticket()
    services.ticket_take(actor=as_alice, ticket_id=resolved_later.pk)
    found = samples(scrape(client))
    open_tickets = {labels: value for (name, labels), value in found.items() if name == "tierdesk_open_tickets"}
    assert open_tickets == {
        (("status", "new"), ("tier", "L1")): 1,
        (("status", "diagnosing"), ("tier", "L1")): 2,
        (("status", "new"), ("tier", "L2")): 1,
    }


def test_the_outbox_gauges_follow_the_events_not_dispatched(client, token):
    # Inside the test's transaction nothing is committed, so no event is dispatched on commit.
    with time_machine.travel(T0, tick=False):
        make_ticket()
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        make_ticket()
    pending = list(Event.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("id", flat=True))
    assert pending
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        found = samples(scrape(client))
    assert found[("tierdesk_outbox_pending_events", ())] == len(pending)
    assert found[("tierdesk_outbox_oldest_pending_seconds", ())] == 90
    first_ticket_events = Event.objects.filter(at=T0).values_list("id", flat=True)
    for event_id in first_ticket_events:
        assert outbox.dispatch(event_id)
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        found = samples(scrape(client))
    assert found[("tierdesk_outbox_pending_events", ())] == len(pending) - len(first_ticket_events)
    assert found[("tierdesk_outbox_oldest_pending_seconds", ())] == 60
    for event_id in pending:
        outbox.dispatch(event_id)
    found = samples(scrape(client))
    assert found[("tierdesk_outbox_pending_events", ())] == 0
    assert found[("tierdesk_outbox_oldest_pending_seconds", ())] == 0


def test_the_sla_gauges_show_a_sweep_that_does_not_run(client, token):
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket(priority="P1")
    first_check = Ticket.objects.get(pk=ticket.pk).sla_next_check_at
    assert first_check is not None
    late = first_check + timedelta(minutes=10)
    with time_machine.travel(late, tick=False):
        found = samples(scrape(client))
        assert found[("tierdesk_sla_checks_due", ())] == 1
        assert found[("tierdesk_sla_oldest_due_seconds", ())] == 600
        escalation.sweep()
        found = samples(scrape(client))
    assert Ticket.objects.get(pk=ticket.pk).sla_next_check_at > late
    assert found[("tierdesk_sla_checks_due", ())] == 0
    assert found[("tierdesk_sla_oldest_due_seconds", ())] == 0


def test_the_broker_gauge_counts_the_tasks_waiting_in_the_queue(client, token, settings):
    from kombu import Queue

    from helpdesk.celery import app

    name = f"tierdesk-metrics-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    key = ("tierdesk_broker_queue_messages", (("queue", name),))
    assert samples(scrape(client))[key] == 0
    with app.connection_for_write() as connection:
        queue = Queue(name, routing_key=name)
        with connection.Producer() as producer:
            for n in range(2):
                producer.publish({"n": n}, routing_key=name, declare=[queue], retry=False)
        try:
            assert samples(scrape(client))[key] == 2
        finally:
            queue.bind(connection.default_channel).delete()


def test_a_database_outage_leaves_our_gauges_out_but_the_page_answers(client, token, monkeypatch):
    def down(self, sql, params=None):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", down)
    response = scrape(client)
    assert response.status_code == 200
    body = response.content.decode()
    assert "django_http_requests_total_by_method_total" in body
    assert "tierdesk_open_tickets" not in body and "tierdesk_outbox_pending_events" not in body
    assert "tierdesk_broker_queue_messages" in body


def test_a_broker_outage_leaves_the_queue_gauge_out_but_the_page_answers(client, token, settings):
    from helpdesk.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    try:
        response = scrape(client)
    finally:
        app.conf.broker_url = original
    assert response.status_code == 200
    body = response.content.decode()
    assert "tierdesk_broker_queue_messages" not in body
    assert "# TYPE tierdesk_open_tickets gauge" in body


# --- several web processes ----------------------------------------------------------------------------------

REQUESTS = """
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
for _ in range({n}):
    assert client.get("/healthz").status_code == 200
"""

SCRAPE = """
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION="Bearer {token}")
assert response.status_code == 200, response.status_code
print(response.content.decode())
"""


def test_with_a_multiprocess_folder_any_process_reports_every_process_counters(tmp_path):
    """What gunicorn's workers do with PROMETHEUS_MULTIPROC_DIR: each counts into the folder, one answers for all."""
    folder = tmp_path / "prometheus"  # not there yet: the settings make it
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "DATABASE_URL"}},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_TOKEN": TOKEN,
        # A throw-away SQLite file with no tables: the ticket gauges are left out, the counters are what counts.
        "TIERDESK_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }

    def python(code):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    python(REQUESTS.format(n=2))
    python(REQUESTS.format(n=3))
    page = python(SCRAPE.format(token=TOKEN))
    values = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    healthz = ("django_http_responses_total_by_status_view_method_total",
               (("method", "GET"), ("status", "200"), ("view", "healthz")))
    assert values[healthz] == 5
    # The scrape itself is the sixth GET, counted before the page was written.
    assert values[("django_http_requests_total_by_method_total", (("method", "GET"),))] == 6
