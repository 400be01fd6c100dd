"""SLA deadlines on the ticket, recomputed by the services on every transition."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_ticket
from tickets import services
from tickets.models import Ticket
from tiers.models import BusinessCalendar, SLAPolicy

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def round_the_clock(tiers):
    """P3 at every tier on a 24×7 calendar: respond in 1 h, 2 h per tier, resolve in 10 h."""
    always = BusinessCalendar.objects.get(always_open=True)
    SLAPolicy.objects.filter(priority="P3").update(
        calendar=always, response_time=1 * H, escalation_time=2 * H, resolution_time=10 * H
    )
    SLAPolicy.objects.filter(priority="P3", tier__code="L2").update(escalation_time=4 * H)


def at(moment):
    return time_machine.travel(moment, tick=False)


def fresh(ticket):
    return Ticket.objects.get(pk=ticket.pk)


def test_create_sets_all_deadlines_and_warnings(round_the_clock):
    with at(T0):
        ticket = make_ticket()
    assert (ticket.response_due_at, ticket.escalation_due_at, ticket.resolution_due_at) == (
        T0 + H, T0 + 2 * H, T0 + 10 * H,
    )
    assert (ticket.response_warn_at, ticket.escalation_warn_at, ticket.resolution_warn_at) == (
        T0 + 48 * M, T0 + 96 * M, T0 + 8 * H,
    )
    assert fresh(ticket).sla_next_check_at == T0 + 48 * M


def test_default_policies_count_office_hours(tiers):
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    with at(friday_4pm):
        ticket = make_ticket(priority="P3")  # 4 business hours to respond, 1 business day at the tier
    assert ticket.response_due_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday noon
    assert ticket.escalation_due_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    with at(friday_4pm):
        urgent = make_ticket(priority="P1")  # 24×7: 15 min / 30 min / 4 h
    assert urgent.response_due_at == friday_4pm + 15 * M
    assert urgent.escalation_due_at == friday_4pm + 30 * M
    assert urgent.resolution_due_at == friday_4pm + 4 * H


def test_first_response_stops_the_response_clock(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
    with at(T0 + 10 * M):
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    taken = fresh(ticket)
    assert taken.first_response_at == T0 + 10 * M
    assert taken.response_due_at == T0 + H  # kept, to judge the response against
    assert taken.sla_next_check_at == T0 + 96 * M  # the escalation warning, not the response one


def test_escalation_restarts_the_tier_clock(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
    with at(T0 + 30 * M):
        services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="Needs L2")
    escalated = fresh(ticket)
    assert escalated.escalation_due_at == T0 + 30 * M + 4 * H  # L2's own time at tier
    assert escalated.escalation_warn_at == T0 + 30 * M + 4 * H * 0.8
    assert escalated.resolution_due_at == T0 + 10 * H  # end to end, from creation


def test_waiting_pauses_every_clock_and_resume_adds_the_pause_back(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with at(T0 + 10 * M):
        waiting = services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which printer?")
    assert fresh(waiting).sla_next_check_at is None  # nothing fires while paused
    assert fresh(waiting).sla_paused_at == T0 + 10 * M
    with at(T0 + 70 * M):
        services.ticket_resume(actor=as_alice, ticket_id=ticket.pk)
    resumed = fresh(ticket)
    assert resumed.sla_paused == H
    assert resumed.sla_paused_at is None
    assert resumed.escalation_due_at == T0 + 3 * H
    assert resumed.resolution_due_at == T0 + 11 * H
    assert resumed.escalation_warn_at == T0 + 96 * M + H
    assert resumed.sla_next_check_at == T0 + 96 * M + H


def test_customer_reply_resumes_and_shifts_by_working_time_only(tiers, as_alice):
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    with at(friday_4pm):
        ticket = make_ticket(priority="P3")
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk)
    before = fresh(ticket)
    from tickets.policy import Actor

    with at(datetime(2026, 11, 30, 10, 0, tzinfo=UTC)):  # Monday 10:00: 1 h Friday + 1 h Monday of office time
        services.comment_add(actor=Actor.customer(ticket.requester), ticket_id=ticket.pk, body="It is the HP one")
    after = fresh(ticket)
    assert after.status == "diagnosing"
    assert after.sla_paused == 2 * H
    # The tier deadline was Monday 16:00; two working hours later it is Tuesday 10:00.
    assert before.escalation_due_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert after.escalation_due_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_resolved_and_closed_tickets_have_nothing_to_check(round_the_clock, diagnosed, as_alice):
    with at(T0 + H):
        services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Fixed")
    assert fresh(diagnosed).sla_next_check_at is None


def test_reopen_restarts_the_tier_clock(round_the_clock, as_alice):
    with at(T0):
        ticket = make_ticket()
        services.ticket_resolve(actor=as_alice, ticket_id=services.ticket_take(actor=as_alice, ticket_id=ticket.pk).pk,
                                summary="Fixed", affected_item="a", steps_before="b", findings="c")
    with at(T0 + 5 * H):
        services.ticket_reopen(actor=as_alice, ticket_id=ticket.pk, reason="Broken again")
    reopened = fresh(ticket)
    assert reopened.escalation_due_at == T0 + 7 * H
    assert reopened.sla_next_check_at == T0 + 5 * H + 96 * M


def test_no_policy_means_no_deadlines(tiers):
    SLAPolicy.objects.filter(priority="P4").delete()
    ticket = make_ticket(priority="P4")
    assert (ticket.response_due_at, ticket.escalation_due_at, ticket.sla_next_check_at) == (None, None, None)
