"""The open-ticket counts kept by the services (tickets.backlog) always equal a count of the tickets."""
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count
from rest_framework.exceptions import ValidationError

from tests.concurrency import race
from tests.factories import make_ticket
from tickets import backlog, escalation, services
from tickets.api.actions import ACTIONS, perform
from tickets.exceptions import TicketError
from tickets.models import BacklogChange, Ticket
from tickets.policy import Actor
from tickets.selectors import tier_summary
from tickets.workflow import OPEN_STATUSES, Action, Status, actions_from
from tiers.models import BusinessCalendar, SLAPolicy

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)

DATA = {
    "reason": "Needs a specialist",
    "summary": "Replaced the cable",
    "affected_item": "Laptop",
    "steps_before": "Rebooted",
    "findings": "Loose cable",
    "body": "Any news?",
    "csat": 4,
}


def counted() -> dict:
    rows = Ticket.objects.filter(status__in=OPEN_STATUSES).values("tier_id", "status").annotate(n=Count("*"))
    return {(row["tier_id"], row["status"]): row["n"] for row in rows.order_by()}


def test_every_change_through_the_services_keeps_the_counts_exact(tiers, mona):
    """A random walk through the workflow (every action, as a manager or the customer) compared with a count of
    the tickets after each step, refused steps included."""
    rng = random.Random(7)
    manager = Actor.of_user(mona)
    tickets = [make_ticket(subject=f"Problem {n}") for n in range(6)]
    assert backlog.counts() == counted() == {(tiers["L1"].pk, Status.NEW): 6}
    moves = 0
    for _step in range(160):
        ticket = Ticket.objects.get(pk=rng.choice(tickets).pk)
        allowed = sorted(set(actions_from(ticket.status)) & set(ACTIONS))
        action = rng.choice(allowed if allowed and rng.random() < 0.8 else sorted(ACTIONS))
        actor = Actor.customer(ticket.requester) if action in (Action.CLOSE, Action.REOPEN) else manager
        data = {**DATA, "assignee": mona.username}
        try:
            perform(action, actor=actor, ticket_id=ticket.pk, data=data)
        except (TicketError, ValidationError):
            pass
        else:
            after = Ticket.objects.get(pk=ticket.pk)
            moves += (after.tier_id, after.status) != (ticket.tier_id, ticket.status)
        assert backlog.counts() == counted(), (action, ticket.status)
    assert moves > 40  # the walk really moved tickets between cells
    assert {status for _tier, status in counted()} - {Status.NEW}  # and left some beyond "new"


def test_a_change_rolled_back_leaves_the_counts_as_they_were(ticket, as_alice):
    before = backlog.counts()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        assert backlog.counts() != before
        raise RuntimeError("the request failed after the change")
    assert backlog.counts() == before == counted()


def test_the_sla_sweep_moves_the_counts_with_its_escalations(tiers, as_alice):
    SLAPolicy.objects.filter(priority="P3").update(
        calendar=BusinessCalendar.objects.get(always_open=True), response_time=1 * H, escalation_time=2 * H,
        resolution_time=10 * H,
    )
    with time_machine.travel(T0, tick=False):
        made = [make_ticket(subject=f"Slow {n}") for n in range(5)]
        services.ticket_take(actor=as_alice, ticket_id=made[0].pk)
    rows_before = BacklogChange.objects.count()
    with time_machine.travel(T0 + 2 * H, tick=False):
        assert escalation.sweep()["escalated"] == 5
    assert backlog.counts() == counted() == {(tiers["L2"].pk, Status.NEW): 5}
    # One batch, one net row per cell: -4 new and -1 diagnosing at L1, +5 new at L2.
    assert BacklogChange.objects.count() - rows_before == 3


def test_compaction_folds_the_ledger_to_a_row_per_cell_without_changing_a_count(ticket, as_alice):
    for n in range(4):
        services.ticket_take(actor=as_alice, ticket_id=make_ticket(subject=f"More {n}").pk)
    before = backlog.counts()
    assert BacklogChange.objects.count() == 13  # 5 creations, 4 moves of two rows each
    assert backlog.compact() == 13
    assert backlog.counts() == before == counted()
    assert BacklogChange.objects.count() == len(before) == 2
    assert backlog.compact() == 2  # folding again changes nothing
    assert backlog.counts() == before


def test_rebuild_recounts_after_writes_that_bypassed_the_services(tiers, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVING, tier=tiers["L3"])
    assert backlog.counts() != counted()
    backlog.rebuild()
    assert backlog.counts() == counted() == {(tiers["L3"].pk, Status.RESOLVING): 1}


def test_the_desk_summary_reads_the_kept_counts_not_the_tickets(tiers, alice, ticket, django_assert_num_queries):
    make_ticket(subject="Another")
    with django_assert_num_queries(4):  # the user's role and tiers, the ledger's sums, the tiers
        rows = tier_summary(user=alice)
    first = rows[0]
    assert (first["tier"].code, first["total"], first["cells"][0], first["mine"]) == ("L1", 2, 2, True)
    assert [row["total"] for row in rows[1:]] == [0, 0]


def test_customers_and_strangers_get_no_counts(django_user_model, ticket):
    stranger = django_user_model.objects.create_user("stranger", password="pw")
    assert all(row["total"] == 0 for row in tier_summary(user=stranger))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_creations_and_compactions_lose_no_count(tiers, alice):
    """Sixteen tickets created and taken at once while the ledger is folded twice: the counts stay exact."""
    actor = Actor.of_user(alice)

    def create_and_take(n):
        def call():
            made = make_ticket(subject=f"Burst {n}", requester_email=f"burst{n}@example.com")
            if n % 2:
                services.ticket_take(actor=actor, ticket_id=made.pk)
            return made

        return call

    results = race(*[create_and_take(n) for n in range(16)], backlog.compact, backlog.compact)
    assert not [result for result in results if isinstance(result, TicketError)]
    backlog.compact()
    assert backlog.counts() == counted() == {(tiers["L1"].pk, Status.NEW): 8, (tiers["L1"].pk, Status.DIAGNOSING): 8}
    assert BacklogChange.objects.count() == 2
