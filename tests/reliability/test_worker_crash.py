"""A Celery worker killed with SIGKILL mid-work loses nothing and doubles nothing once it is started again.

The worker (its main process and its pool, all at once, as the kernel's OOM
killer or a container kill would) dies in the middle of an SLA sweep of
3,000 due tickets, and in the middle of webhook deliveries to a slow receiver
(a real HTTP server in a thread of the test). Beat keeps running; a new worker
is started on the same Redis and database.
"""
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db.models import Count
from django.utils import timezone

from tests.factories import make_ticket
from tests.integration.conftest import app_env, start_beat, start_worker, wait_until
from tests.webhooks.conftest import Received, make_webhook, verify_signature
from tickets import backlog
from tickets.deadlines import Clock
from tickets.models import Event, Requester, Ticket
from tickets.workflow import EventKind, Status
from webhooks.models import Attempt, Delivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DUE_TICKETS = 3000


def due_tickets(count: int, tiers) -> list[int]:
    """`count` new L1 tickets whose time at the tier ran out 10 minutes ago (its warnings already recorded).

    Inserted in bulk (through the services this would take minutes), with the `created` event each and the
    open-ticket ledger rebuilt, as for any write that bypasses the services.
    """
    now = timezone.now()
    created = now - timedelta(hours=2)
    requester = Requester.objects.create(email="dana@example.com", name="Dana")
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                subject=f"Printer {n} jams", description="It jams on every page.", requester=requester,
                tier=tiers["L1"], priority="P1", created_at=created, updated_at=created,
                response_due_at=created + timedelta(minutes=15), response_warn_at=created + timedelta(minutes=12),
                escalation_due_at=now - timedelta(minutes=10), escalation_warn_at=now - timedelta(minutes=20),
                resolution_due_at=now + timedelta(hours=4), resolution_warn_at=now + timedelta(hours=3),
                sla_flags=Clock.RESPONSE.warned | Clock.RESPONSE.breached | Clock.ESCALATION.warned,
                sla_next_check_at=now - timedelta(minutes=10),
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    Event.objects.bulk_create(
        [Event(ticket=t, kind=EventKind.CREATED, at=created, actor_role="customer", to_status=Status.NEW,
               to_tier=tiers["L1"], dispatched_at=created) for t in tickets],
        batch_size=1000,
    )
    backlog.rebuild()
    return [t.pk for t in tickets]


def escalated_count() -> int:
    return Event.objects.filter(kind=EventKind.ESCALATED).count()


def test_a_worker_killed_mid_sweep_leaves_every_due_ticket_escalated_exactly_once(
    tiers, redis_server, processes, tmp_path
):
    ids = due_tickets(DUE_TICKETS, tiers)
    env = app_env(tmp_path, REDIS_URL=redis_server.url)
    start_beat(processes, env)
    start_worker(processes, env)

    deadline = time.monotonic() + 120
    while escalated_count() < 300:  # the sweep is well under way (it commits batches of 100)
        assert time.monotonic() < deadline, processes.log("worker")[-3000:]
        time.sleep(0.02)
    processes.kill("worker")
    at_kill = escalated_count()
    assert at_kill < DUE_TICKETS, "the sweep ended before the kill: nothing was cut"
    time.sleep(2)
    assert escalated_count() == at_kill  # nothing runs any more; the cut batch was rolled back

    start_worker(processes, env)
    wait_until(lambda: escalated_count() >= DUE_TICKETS, 120, tmp_path)
    # Every escalation also reached the subscribers: events whose dispatch died with the worker, or was never
    # published, are found by the outbox drain.
    wait_until(lambda: not Event.objects.filter(dispatched_at__isnull=True).exists(), 120, tmp_path)
    time.sleep(3)  # more sweeps pass over the same tickets

    per_ticket = dict(
        Event.objects.filter(kind=EventKind.ESCALATED).values_list("ticket").annotate(n=Count("id")).order_by()
    )
    assert sorted(per_ticket) == sorted(ids)
    assert set(per_ticket.values()) == {1}, {pk: n for pk, n in per_ticket.items() if n != 1}
    assert Ticket.objects.filter(pk__in=ids, tier=tiers["L2"], status=Status.NEW).count() == DUE_TICKETS
    assert not Ticket.objects.filter(pk__in=ids, sla_next_check_at__lte=timezone.now()).exists()


class SlowReceiver:
    """A webhook receiver that takes `delay` seconds before it answers 200; it notes every request it gets,
    and which deliveries it is answering right now."""

    def __init__(self, delay: float):
        self.received: list[Received] = []
        self.answering: list[int] = []  # delivery ids, one entry per request being answered
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                delivery_id = int(self.headers["X-Tierdesk-Delivery"])
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, 200)
                    )
                    receiver.answering.append(delivery_id)
                time.sleep(delay)
                with receiver._lock:
                    receiver.answering.remove(delivery_id)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self.answering)


@pytest.fixture
def slow_receiver():
    receiver = SlowReceiver(delay=2).start()
    yield receiver
    receiver.stop()


def test_a_worker_killed_mid_delivery_leaves_every_event_delivered_under_one_delivery_id(
    tiers, mona, redis_server, processes, tmp_path, slow_receiver
):
    webhook = make_webhook(slow_receiver.url, user=mona, kinds=[EventKind.ESCALATED])
    tickets = [make_ticket() for _ in range(4)]
    env = app_env(tmp_path, REDIS_URL=redis_server.url, WEBHOOK_ALLOW_PRIVATE_TARGETS=1,
                  WEBHOOK_TIMEOUT_SECONDS=5, WEBHOOK_RETRY_SWEEP_SECONDS=1)
    start_beat(processes, env)
    start_worker(processes, env)
    # Their time at L1 is up: the worker's sweep escalates them, and the worker posts each escalation.
    past = timezone.now() - timedelta(minutes=1)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(escalation_due_at=past, sla_next_check_at=past)

    deadline = time.monotonic() + 60
    while not slow_receiver.in_flight():
        assert time.monotonic() < deadline, processes.log("worker")[-3000:]
        time.sleep(0.02)
    processes.kill("worker")
    cut = slow_receiver.in_flight()
    assert cut  # the receiver had a request in hand that the worker would never see answered

    start_worker(processes, env)
    escalations = list(Event.objects.filter(ticket__in=tickets, kind=EventKind.ESCALATED))
    assert len(escalations) == 4

    # A cut delivery waits out its lease (3 × timeout + 30 s), then the retry sweep sends it again.
    wait_until(
        lambda: Delivery.objects.filter(webhook=webhook, status=Delivery.Status.DELIVERED).count() == 4,
        120, tmp_path,
    )
    deliveries = {d.pk: d for d in Delivery.objects.filter(webhook=webhook)}
    assert {d.event_id for d in deliveries.values()} == {e.pk for e in escalations}
    # At least once, with one id per event to deduplicate on: every request for an event carried its delivery's
    # id and the same signed payload; only the cut deliveries arrived twice.
    by_delivery = {}
    for got in slow_receiver.received:
        assert verify_signature(webhook.secret, got.headers, got.body)
        by_delivery.setdefault(int(got.headers["x-tierdesk-delivery"]), []).append(json.loads(got.body))
    assert set(by_delivery) == set(deliveries)
    for delivery_id, bodies in by_delivery.items():
        assert {body["id"] for body in bodies} == {deliveries[delivery_id].event_id}
        assert all(body == bodies[0] for body in bodies)
        assert len(bodies) == (2 if delivery_id in cut else 1), (delivery_id, cut)
    # The killed attempt left no record; each delivery has the one attempt that was answered.
    assert sorted(Attempt.objects.filter(delivery__webhook=webhook).values_list("status_code", flat=True)) == [200] * 4
