"""The SLA sweep: escalation at the deadline and not before, warnings once, the L3 breach path."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from tests.concurrency import race
from tests.factories import make_ticket, staff_user
from tickets import escalation, services
from tickets.exceptions import TicketError
from tickets.models import Event, Ticket
from tickets.tasks import sla_sweep
from tickets.workflow import EventKind, Status
from tiers.models import BusinessCalendar, SLAPolicy

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def round_the_clock(tiers):
    """P3 everywhere on 24×7: respond in 1 h, 2 h at each tier, resolve in 10 h."""
    SLAPolicy.objects.filter(priority="P3").update(
        calendar=BusinessCalendar.objects.get(always_open=True),
        response_time=1 * H,
        escalation_time=2 * H,
        resolution_time=10 * H,
    )


def at(moment):
    return time_machine.travel(moment, tick=False)


def kinds(ticket, *wanted):
    return list(Event.objects.filter(ticket=ticket, kind__in=wanted).values_list("kind", flat=True))


pytestmark = pytest.mark.django_db


def test_nothing_is_escalated_before_its_deadline(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    escalation.sweep(now=T0 + 2 * H - timedelta(seconds=1))
    assert Ticket.objects.get(pk=ticket.pk).tier.code == "L1"
    assert kinds(ticket, EventKind.ESCALATED) == []


def test_a_ticket_past_its_tier_time_is_escalated_by_the_system(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with at(T0 + 2 * H):
        counts = escalation.sweep()
    escalated = Ticket.objects.get(pk=ticket.pk)
    assert (escalated.tier.code, escalated.status, escalated.assignee) == ("L2", Status.NEW, None)
    event = Event.objects.get(ticket=ticket, kind=EventKind.ESCALATED)
    assert (event.actor_role, event.actor, event.reason) == ("system", None, "sla_timer")
    assert escalated.escalation_due_at == T0 + 4 * H  # L2's clock starts now
    assert counts["escalated"] == 1


def test_a_ticket_left_alone_climbs_to_l3_and_then_breaches(round_the_clock, mona, django_capture_on_commit_callbacks):
    with at(T0):
        ticket = make_ticket()
    for hours in (2, 4):
        with at(T0 + hours * H):
            escalation.sweep()
    assert Ticket.objects.get(pk=ticket.pk).tier.code == "L3"
    with at(T0 + 6 * H), django_capture_on_commit_callbacks(execute=True):
        escalation.sweep()
        escalation.sweep()
    at_l3 = Ticket.objects.get(pk=ticket.pk)
    assert at_l3.tier.code == "L3" and at_l3.status == Status.NEW
    breaches = Event.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED)
    assert [e.data["clock"] for e in breaches] == ["response", "escalation"]
    manager_mail = [m for m in mail.outbox if m.to == ["mona@example.com"]]
    assert len(manager_mail) == 1  # the escalation breach (the response breach was recorded at 2 h, uncaptured)
    assert ticket.reference in manager_mail[0].subject and "escalation" in manager_mail[0].subject


def test_warning_at_80_percent_is_recorded_once_and_mailed_to_the_tier(
    round_the_clock, alice, django_capture_on_commit_callbacks
):
    staff_user("bob", tier="L2")
    with at(T0):
        ticket = make_ticket()
    with at(T0 + 48 * M), django_capture_on_commit_callbacks(execute=True):
        escalation.sweep()
        escalation.sweep()
    warnings = Event.objects.filter(ticket=ticket, kind=EventKind.SLA_WARNING)
    assert [w.data["clock"] for w in warnings] == ["response"]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]  # L1's agents only
    assert "80" in mail.outbox[0].body
    with at(T0 + 96 * M):
        escalation.sweep()
    assert [w.data["clock"] for w in Event.objects.filter(ticket=ticket, kind=EventKind.SLA_WARNING)] == [
        "response",
        "escalation",
    ]


def test_sweeping_twice_changes_nothing_the_second_time(round_the_clock):
    with at(T0):
        tickets = [make_ticket() for _ in range(3)]
    with at(T0 + 3 * H):
        escalation.sweep()
        snapshot = list(Event.objects.order_by("id").values_list("id", flat=True))
        versions = list(Ticket.objects.order_by("id").values_list("version", flat=True))
        second = escalation.sweep()
    assert second["checked"] == 0
    assert list(Event.objects.order_by("id").values_list("id", flat=True)) == snapshot
    assert list(Ticket.objects.order_by("id").values_list("version", flat=True)) == versions
    assert {t.tier.code for t in Ticket.objects.filter(pk__in=[t.pk for t in tickets])} == {"L2"}


def test_a_waiting_ticket_is_not_escalated(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk)
    escalation.sweep(now=T0 + 5 * H)
    assert Ticket.objects.get(pk=ticket.pk).tier.code == "L1"
    assert kinds(ticket, EventKind.ESCALATED, EventKind.SLA_WARNING) == []


def test_sla_events_do_not_bump_the_version(round_the_clock):
    with at(T0):
        ticket = make_ticket()
    escalation.sweep(now=T0 + 50 * M)
    assert Ticket.objects.get(pk=ticket.pk).version == 1
    assert kinds(ticket, EventKind.SLA_WARNING) == [EventKind.SLA_WARNING]


def test_the_sweep_task_also_auto_closes(round_the_clock, as_alice, settings):
    settings.AUTO_CLOSE_DAYS = 3
    with time_machine.travel(datetime.now(UTC) - timedelta(days=5)):
        ticket = make_ticket()
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Done", affected_item="a",
                                steps_before="b", findings="c")
    counts = sla_sweep()
    assert counts["auto_closed"] == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_sweeps_escalate_1000_due_tickets_exactly_once(round_the_clock):
    with at(T0):
        tickets = [make_ticket(subject=f"Due {n}") for n in range(1000)]
    due = T0 + 2 * H
    results = race(*[lambda: escalation.sweep(now=due, batch=50)] * 2)
    assert Event.objects.filter(kind=EventKind.ESCALATED).count() == 1000
    assert sum(r["escalated"] for r in results) == 1000
    assert all(r["escalated"] > 0 for r in results)  # both sweeps did part of the work
    assert set(Ticket.objects.values_list("tier__code", flat=True)) == {"L2"}
    assert Event.objects.filter(kind=EventKind.SLA_WARNING, data__clock="escalation").count() == 1000
    assert len(tickets) == 1000


def test_sweep_queries_per_escalated_ticket_are_constant(round_the_clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def sweep_queries(count, created):
        with at(created):
            for _ in range(count):
                make_ticket()
        escalation.sweep(now=created + 100 * M)  # records the warnings: only the escalation is left due
        with CaptureQueriesContext(connection) as queries:
            counts = escalation.sweep(now=created + 2 * H)
        # Policies come from a per-process cache that may refresh during the sweep; that is not per ticket.
        return counts["escalated"], len([q for q in queries if '"tiers_' not in q["sql"].split(" WHERE ")[0]])

    few = sweep_queries(5, T0)
    many = sweep_queries(15, T0 + 10 * H)
    assert (few[0], many[0]) == (5, 15)
    # The batch is claimed whole (rows locked and read at once, one savepoint per batch) and its events are
    # inserted together: per ticket only the conditional update, whatever the batch size.
    assert many[1] - few[1] == 10 * 1


def test_one_failing_ticket_costs_only_itself(round_the_clock, monkeypatch):
    """A ticket whose check fails undoes its batch's first pass; the batch is then checked ticket by ticket,
    so every other ticket is still escalated, once, and the failing one stays due for the next sweep."""
    with at(T0):
        tickets = [make_ticket() for _ in range(4)]
    escalation.sweep(now=T0 + 100 * M)
    poison = tickets[1].pk
    checked = services.sla_check_locked

    def failing(ticket, **kwargs):
        if ticket.pk == poison:
            raise TicketError(TicketError.ILLEGAL_TRANSITION, "refused for the test")
        return checked(ticket, **kwargs)

    monkeypatch.setattr(escalation, "sla_check_locked", failing)
    monkeypatch.setattr(services, "sla_check_locked", failing)
    counts = escalation.sweep(now=T0 + 2 * H)
    assert counts["escalated"] == 3
    for ticket in tickets:
        ticket.refresh_from_db()
        escalated = Event.objects.filter(ticket=ticket, kind=EventKind.ESCALATED).count()
        assert (ticket.tier.code, escalated) == (("L1", 0) if ticket.pk == poison else ("L2", 1))
    poisoned = Ticket.objects.get(pk=poison)
    assert poisoned.sla_next_check_at is not None and poisoned.sla_next_check_at <= T0 + 2 * H
