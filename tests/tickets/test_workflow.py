"""Every status × action pair of the workflow table, through the services.

Allowed pairs succeed and append the right event; every other pair is refused
with `illegal_transition`, leaving ticket and log untouched.
"""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_ticket
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tickets.workflow import PREVIOUS, SAME, TRANSITIONS, Action, EventKind, Status

pytestmark = pytest.mark.django_db


def _at_l2_in(status, manager, bob):
    """A ticket at L2 (so it can go both up and down) in `status`, with diagnosis and summary filled in."""
    ticket = make_ticket()
    services.ticket_escalate(actor=manager, ticket_id=ticket.pk, reason="Needs L2")
    if status == Status.NEW:
        return Ticket.objects.get(pk=ticket.pk)
    services.ticket_take(actor=manager, ticket_id=ticket.pk)
    services.ticket_diagnose(
        actor=manager, ticket_id=ticket.pk, affected_item="VPN client", steps_before="Update", findings="Bad config"
    )
    if status == Status.WAITING:
        services.ticket_wait(actor=manager, ticket_id=ticket.pk, reason="Need a log file")
    if status in (Status.RESOLVING, Status.RESOLVED, Status.CLOSED):
        services.ticket_start_resolving(actor=manager, ticket_id=ticket.pk)
    if status in (Status.RESOLVED, Status.CLOSED):
        services.ticket_resolve(actor=manager, ticket_id=ticket.pk, summary="Reset the VPN profile")
    if status == Status.CLOSED:
        services.ticket_close(actor=manager, ticket_id=ticket.pk)
    return Ticket.objects.get(pk=ticket.pk)


def _call(action, actor, ticket, bob):
    tid = ticket.pk
    return {
        Action.TAKE: lambda: services.ticket_take(actor=actor, ticket_id=tid),
        Action.ASSIGN: lambda: services.ticket_assign(actor=actor, ticket_id=tid, assignee=bob),
        Action.DIAGNOSE: lambda: services.ticket_diagnose(actor=actor, ticket_id=tid, findings="More findings"),
        Action.START_RESOLVING: lambda: services.ticket_start_resolving(actor=actor, ticket_id=tid),
        Action.WAIT: lambda: services.ticket_wait(actor=actor, ticket_id=tid, reason="Question"),
        Action.RESUME: lambda: services.ticket_resume(actor=actor, ticket_id=tid),
        Action.RESOLVE: lambda: services.ticket_resolve(actor=actor, ticket_id=tid, summary="Fixed it"),
        Action.ESCALATE: lambda: services.ticket_escalate(actor=actor, ticket_id=tid, reason="Beyond L2"),
        Action.DE_ESCALATE: lambda: services.ticket_de_escalate(actor=actor, ticket_id=tid, reason="L1 can fix"),
        Action.REOPEN: lambda: services.ticket_reopen(actor=actor, ticket_id=tid, reason="Still broken"),
        Action.CLOSE: lambda: services.ticket_close(actor=actor, ticket_id=tid),
        Action.COMMENT: lambda: services.comment_add(actor=actor, ticket_id=tid, body="A note"),
        Action.ATTACH: lambda: services.attachment_add(
            actor=actor, ticket_id=tid, upload=SimpleUploadedFile("vpn.log", b"connection reset")
        ),
        Action.UPDATE: lambda: services.ticket_update(actor=actor, ticket_id=tid, priority="P2"),
        Action.USE_SUGGESTION: lambda: services.suggestion_record(actor=actor, ticket_id=tid, data={"how": "linked"}),
        Action.UNLINK_REPEAT: lambda: services.ticket_unlink_repeat(actor=actor, ticket_id=tid),
        # Merge into an open ticket of the same requester; link to another ticket; tag.
        Action.MERGE: lambda: services.ticket_merge(actor=actor, ticket_id=tid, into_id=make_ticket().pk),
        Action.LINK: lambda: services.ticket_link(actor=actor, ticket_id=tid, other_id=make_ticket().pk),
        Action.TAG: lambda: services.ticket_tag(actor=actor, ticket_id=tid, add=["vpn"]),
    }[action]()


def _linked_as_repeat(ticket):
    """The precondition of unlinking: the ticket is linked to an earlier one as a repeat contact."""
    earlier = make_ticket(subject="An earlier, unrelated problem", requester_email="erin@example.com")
    Ticket.objects.filter(pk=ticket.pk).update(repeat_of=earlier)
    return Ticket.objects.get(pk=ticket.pk)


PAIRS = [(status, action) for status in Status for action in Action]


def test_the_matrix_covers_every_status_and_action():
    assert len(PAIRS) == len(Status) * len(Action) == 6 * 19
    assert all(status in Status.values and action in Action.values for status, action in TRANSITIONS)


@pytest.mark.parametrize("status,action", PAIRS, ids=[f"{s.value}-{a.value}" for s, a in PAIRS])
def test_status_action_pair(status, action, mona, bob):
    manager = Actor.of_user(mona)
    ticket = _at_l2_in(status, manager, bob)
    if action == Action.UNLINK_REPEAT:
        ticket = _linked_as_repeat(ticket)
    events_before = Event.objects.filter(ticket=ticket).count()
    transition = TRANSITIONS.get((status, action))

    if transition is None:
        with pytest.raises(TicketError) as refused:
            _call(action, manager, ticket, bob)
        assert refused.value.code == TicketError.ILLEGAL_TRANSITION
        assert str(Action(action).label) in str(refused.value.message)
        assert Event.objects.filter(ticket=ticket).count() == events_before
        assert Ticket.objects.get(pk=ticket.pk).version == ticket.version
        return

    _call(action, manager, ticket, bob)
    after = Ticket.objects.get(pk=ticket.pk)
    event = Event.objects.filter(ticket=ticket).latest("id")
    assert event.kind == transition.event
    assert event.from_status == status
    expected = {SAME: status, PREVIOUS: Status.DIAGNOSING}.get(transition.target, transition.target)
    assert after.status == event.to_status == expected
    # Using a suggestion is noted on the timeline only: the ticket itself, and so its version, stays.
    assert after.version == ticket.version + (action != Action.USE_SUGGESTION)
    assert Event.objects.filter(ticket=ticket).count() == events_before + 1
    assert event.from_tier.code == "L2"
    assert event.to_tier.code == {1: "L3", -1: "L1", 0: "L2"}[transition.tier_step]


def test_closed_is_terminal():
    assert not [action for (status, action) in TRANSITIONS if status == Status.CLOSED]


def test_every_event_kind_of_a_transition_is_a_known_kind():
    assert {t.event for t in TRANSITIONS.values()} <= set(EventKind)
