"""Racing writers on PostgreSQL: separate connections, the same ticket, the same moment.

Each thread has its own database connection (Django connections are per
thread), so these are real concurrent transactions against the row lock.
"""
import pytest

from tests.concurrency import race
from tests.factories import make_ticket
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tickets.workflow import EventKind, Status

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _resolving_ticket(agent):
    ticket = make_ticket()
    services.ticket_take(actor=agent, ticket_id=ticket.pk)
    services.ticket_diagnose(actor=agent, ticket_id=ticket.pk, affected_item="x", steps_before="y", findings="z")
    return services.ticket_start_resolving(actor=agent, ticket_id=ticket.pk)


@pytest.mark.parametrize("trial", range(10))
def test_resolve_racing_escalate_exactly_one_wins(alice, mona, trial):
    agent, manager = Actor.of_user(alice), Actor.of_user(mona)
    ticket = _resolving_ticket(agent)
    resolve, escalate = race(
        lambda: services.ticket_resolve(actor=agent, ticket_id=ticket.pk, summary="Fixed"),
        lambda: services.ticket_escalate(actor=manager, ticket_id=ticket.pk, reason="Needs L2"),
    )
    outcomes = [r for r in (resolve, escalate) if isinstance(r, Ticket)]
    refusals = [r for r in (resolve, escalate) if isinstance(r, TicketError)]
    assert len(outcomes) == 1 and len(refusals) == 1, (resolve, escalate)
    assert refusals[0].code == TicketError.ILLEGAL_TRANSITION
    final = Ticket.objects.get(pk=ticket.pk)
    assert final.version == ticket.version + 1
    racing_kinds = Event.objects.filter(ticket=ticket, kind__in=[EventKind.RESOLVED, EventKind.ESCALATED])
    assert racing_kinds.count() == 1
    if isinstance(resolve, Ticket):
        assert (final.status, final.tier.code) == (Status.RESOLVED, "L1")
    else:
        assert (final.status, final.tier.code) == (Status.NEW, "L2")


def test_two_agents_taking_one_ticket_exactly_one_gets_it(alice, tiers):
    from tests.factories import staff_user

    other = staff_user("alex", tier="L1")
    ticket = make_ticket()
    first, second = race(
        lambda: services.ticket_take(actor=Actor.of_user(alice), ticket_id=ticket.pk),
        lambda: services.ticket_take(actor=Actor.of_user(other), ticket_id=ticket.pk),
    )
    winners = [r for r in (first, second) if isinstance(r, Ticket)]
    assert len(winners) == 1
    assert Event.objects.filter(ticket=ticket, kind=EventKind.TAKEN).count() == 1
    final = Ticket.objects.get(pk=ticket.pk)
    assert final.assignee == winners[0].assignee
    assert final.version == 2


def test_same_version_racing_writers_one_is_stale(alice):
    agent = Actor.of_user(alice)
    ticket = make_ticket()
    services.ticket_take(actor=agent, ticket_id=ticket.pk)
    results = race(
        *[
            (lambda n=n: services.ticket_diagnose(actor=agent, ticket_id=ticket.pk, findings=f"finding {n}", version=2))
            for n in range(4)
        ]
    )
    assert sum(isinstance(r, Ticket) for r in results) == 1
    assert {r.code for r in results if isinstance(r, TicketError)} == {TicketError.STALE_VERSION}
    assert Event.objects.filter(ticket=ticket, kind=EventKind.DIAGNOSED).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).version == 3


def test_concurrent_comments_are_all_kept_with_distinct_versions(alice):
    agent = Actor.of_user(alice)
    ticket = make_ticket()
    results = race(*[(lambda n=n: services.comment_add(actor=agent, ticket_id=ticket.pk, body=f"note {n}"))
                     for n in range(8)])
    assert not [r for r in results if isinstance(r, TicketError)]
    assert Ticket.objects.get(pk=ticket.pk).version == 1 + 8
    assert Event.objects.filter(ticket=ticket, kind=EventKind.COMMENTED).count() == 8
