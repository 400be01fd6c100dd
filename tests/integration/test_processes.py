"""Real Celery worker and beat processes, on a real Redis and the test database, run the timers.

Each test starts its own redis-server on a free port (so it can restart it),
a Celery worker and Celery beat with a one-second sweep, then watches the
database: nothing here calls a task function directly.
"""
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import make_ticket
from tests.integration.conftest import wait_until
from tickets import services
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tickets.workflow import EventKind, Status
from tiers.models import BusinessCalendar, SLAPolicy

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def seconds_at_each_tier(tiers):
    """P3 on 24×7 with 3 seconds at each tier, so a ticket left alone climbs within seconds."""
    SLAPolicy.objects.filter(priority="P3").update(
        calendar=BusinessCalendar.objects.get(always_open=True),
        response_time=timedelta(hours=1),
        escalation_time=timedelta(seconds=3),
        resolution_time=timedelta(hours=4),
    )


def escalations(ticket):
    return list(
        Event.objects.filter(ticket=ticket, kind=EventKind.ESCALATED)
        .order_by("id")
        .values_list("from_tier__code", "to_tier__code", "actor_role", "reason")
    )


def test_a_ticket_left_alone_climbs_l1_l2_l3_by_the_running_timers(seconds_at_each_tier, celery_processes):
    ticket = make_ticket()
    wait_until(lambda: Ticket.objects.get(pk=ticket.pk).tier.code == "L3", 60, celery_processes)
    assert escalations(ticket) == [("L1", "L2", "system", "sla_timer"), ("L2", "L3", "system", "sla_timer")]
    # At L3 the end of the tier time is a breach, recorded once, not a third escalation.
    wait_until(
        lambda: Event.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED, data__clock="escalation").exists(),
        30,
        celery_processes,
    )
    time.sleep(2)
    assert Event.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED, data__clock="escalation").count() == 1
    assert len(escalations(ticket)) == 2
    assert "tickets.tasks.sla_sweep" in (celery_processes / "worker.log").read_text()


def test_a_due_ticket_is_still_escalated_after_redis_restarts(seconds_at_each_tier, redis_server, celery_processes):
    wait_until(lambda: "tickets.tasks.sla_sweep" in (celery_processes / "worker.log").read_text(), 60,
               celery_processes)
    redis_server.stop()
    ticket = make_ticket()  # due in 3 s, while the broker is down
    time.sleep(6)
    assert Ticket.objects.get(pk=ticket.pk).tier.code == "L1"  # nothing can run without the broker
    redis_server.start()  # an empty Redis: no message survived, the deadline lives in the database
    wait_until(lambda: Ticket.objects.get(pk=ticket.pk).tier.code != "L1", 60, celery_processes)
    assert escalations(ticket)[0] == ("L1", "L2", "system", "sla_timer")


def test_worker_and_beat_auto_close_and_dispatch(alice, settings, celery_processes):
    settings.AUTO_CLOSE_DAYS = 3
    agent = Actor.of_user(alice)
    silent, recent = make_ticket(), make_ticket()
    for ticket in (silent, recent):
        services.ticket_take(actor=agent, ticket_id=ticket.pk)
    with time_machine.travel(timezone.now() - timedelta(days=4)):
        services.ticket_resolve(actor=agent, ticket_id=silent.pk, summary="Fixed", affected_item="a",
                                steps_before="b", findings="c")
    services.ticket_resolve(actor=agent, ticket_id=recent.pk, summary="Fixed", affected_item="a",
                            steps_before="b", findings="c")

    def closed_and_dispatched():
        closing = Event.objects.filter(ticket=silent, kind=EventKind.CLOSED).first()
        return closing is not None and closing.dispatched_at is not None

    wait_until(closed_and_dispatched, 90, celery_processes)
    assert Ticket.objects.get(pk=silent.pk).status == Status.CLOSED
    assert Ticket.objects.get(pk=recent.pk).status == Status.RESOLVED
    closing = Event.objects.get(ticket=silent, kind=EventKind.CLOSED)
    assert (closing.actor_role, closing.data) == ("system", {"auto": True})
    time.sleep(2.5)  # more sweeps pass: still exactly one closing event
    assert Event.objects.filter(ticket=silent, kind=EventKind.CLOSED).count() == 1
