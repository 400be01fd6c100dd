"""Who is mailed about what: every rule, who is left out, and the language each mail is written in.

Changes go through the services and the real outbox (commit hooks executed,
Celery eager); the mails land in Django's test outbox. What the mails say is
in test_smtp.py.
"""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications.handlers import on_event, plan
from notifications.models import Notification
from tests.factories import make_ticket, staff_user
from tests.notifications.conftest import notified
from tickets import outbox, services
from tickets.models import Event
from tickets.policy import Actor
from tickets.workflow import EventKind
from tiers.models import StaffProfile

pytestmark = pytest.mark.django_db

DANA = "dana@example.com"


def resolve(actor, ticket):
    return services.ticket_resolve(actor=actor, ticket_id=ticket.pk, summary="Replaced the fuser",
                                   affected_item="Printer P3", steps_before="Nothing", findings="Worn fuser")


def sla_event(ticket, kind, clock="response"):
    """An SLA event as the sweep records it (the sweep itself is covered in tests/tickets/test_escalation.py)."""
    return Event.objects.create(ticket=ticket, kind=kind, actor_role="system", from_status=ticket.status,
                                to_status=ticket.status, from_tier=ticket.tier, to_tier=ticket.tier,
                                data={"clock": clock, "due_at": timezone.now().isoformat()})


# --- the customer ---------------------------------------------------------------------


def test_a_new_ticket_mails_the_customer_only(outbox_runs, alice, mona):
    with outbox_runs():
        ticket = make_ticket()
    assert notified(ticket) == [(DANA, "customer_created")]
    assert [m.to for m in mail.outbox] == [[DANA]]
    assert Notification.objects.get().status == Notification.Status.SENT


def test_a_phone_ticket_entered_by_an_agent_mails_the_customer_not_the_agent(outbox_runs, as_alice):
    with outbox_runs():
        ticket = make_ticket(actor=as_alice, channel="phone")
    assert notified(ticket) == [(DANA, "customer_created")]


@pytest.mark.parametrize("who", ["agent", "manager", "integration"])
def test_a_public_staff_reply_mails_the_customer(outbox_runs, ticket, alice, mona, who):
    actor = {"agent": Actor.of_user(alice), "manager": Actor.of_user(mona),
             "integration": Actor.of_user(alice, integration=True)}[who]
    with outbox_runs():
        services.comment_add(actor=actor, ticket_id=ticket.pk, body="Please restart the printer.")
    assert notified(ticket, EventKind.COMMENTED) == [(DANA, "customer_reply")]


@pytest.mark.parametrize("who", ["agent", "integration"])
def test_an_internal_note_mails_nobody(outbox_runs, ticket, alice, as_alice, who):
    actor = as_alice if who == "agent" else Actor.of_user(alice, integration=True)
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with outbox_runs():
        services.comment_add(actor=actor, ticket_id=ticket.pk, body="Printer is out of warranty", internal=True)
    assert notified(ticket, EventKind.COMMENTED) == []
    assert mail.outbox == []


def test_an_event_that_does_not_say_internal_is_treated_as_a_note(ticket, as_alice):
    comment = services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Public, but the event lost the flag")
    event = Event.objects.get(ticket=ticket, kind=EventKind.COMMENTED)
    forged = Event(pk=event.pk, ticket=ticket, kind=EventKind.COMMENTED, actor_role="agent",
                   data={"author_role": "agent", "comment_id": comment.pk})
    assert plan(forged) == []


def test_an_event_claiming_a_public_reply_for_an_internal_comment_mails_nobody(ticket, as_alice):
    note = services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Internal", internal=True)
    forged = Event(ticket=ticket, kind=EventKind.COMMENTED, actor_role="agent",
                   data={"internal": False, "author_role": "agent", "comment_id": note.pk})
    assert plan(forged) == []  # the comment row has the last word


def test_waiting_resolved_and_closed_mail_the_customer(outbox_runs, ticket, as_alice, dana):
    with outbox_runs():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which model is it?")
    assert notified(ticket, EventKind.TAKEN) == []
    assert notified(ticket, EventKind.WAITING) == [(DANA, "customer_waiting")]
    with outbox_runs():
        services.ticket_resume(actor=as_alice, ticket_id=ticket.pk)
        resolve(as_alice, ticket)
    assert notified(ticket, EventKind.RESUMED) == []
    assert notified(ticket, EventKind.RESOLVED) == [(DANA, "customer_resolved")]
    with outbox_runs():
        services.ticket_close(actor=dana, ticket_id=ticket.pk, csat=5)
    assert notified(ticket, EventKind.CLOSED) == [(DANA, "customer_closed")]


def test_an_auto_closed_ticket_mails_the_customer(outbox_runs, ticket, as_alice, settings):
    from tickets.tasks import auto_close_resolved

    settings.AUTO_CLOSE_DAYS = 3
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    resolve(as_alice, ticket)
    ticket.__class__.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=4))
    with outbox_runs():
        assert auto_close_resolved() == 1
    assert notified(ticket, EventKind.CLOSED) == [(DANA, "customer_closed")]


def test_work_in_the_desk_mails_nobody(outbox_runs, ticket, as_alice, alice, bob):
    with outbox_runs():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_diagnose(actor=as_alice, ticket_id=ticket.pk, affected_item="Printer P3")
        services.ticket_update(actor=as_alice, ticket_id=ticket.pk, priority="P2")
        services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="Needs a technician")
    assert notified(ticket) == []


# --- staff ----------------------------------------------------------------------------


def test_an_assignment_mails_the_new_assignee_only(outbox_runs, ticket, as_mona, alice, mona):
    amy = staff_user("amy", tier="L1")
    with outbox_runs():
        services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=alice)
    assert notified(ticket, EventKind.ASSIGNED) == [("alice@example.com", "agent_assigned")]
    with outbox_runs():
        services.ticket_assign(actor=Actor.of_user(alice), ticket_id=ticket.pk, assignee=amy)
    assert notified(ticket, EventKind.ASSIGNED) == [("alice@example.com", "agent_assigned"),
                                                    ("amy@example.com", "agent_assigned")]
    assert sorted(m.to[0] for m in mail.outbox if m.to != [DANA]) == ["alice@example.com", "amy@example.com"]


def test_nobody_is_mailed_about_assigning_a_ticket_to_themselves(outbox_runs, ticket, as_mona, mona):
    with outbox_runs():
        services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=mona)
    assert notified(ticket, EventKind.ASSIGNED) == []


def test_taking_a_ticket_mails_nobody(outbox_runs, ticket, as_alice):
    with outbox_runs():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    assert notified(ticket, EventKind.TAKEN) == []


def test_a_customer_reply_mails_the_assignee(outbox_runs, ticket, as_alice, dana):
    staff_user("amy", tier="L1")
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with outbox_runs():
        services.comment_add(actor=dana, ticket_id=ticket.pk, body="It jams again.")
    assert notified(ticket, EventKind.COMMENTED) == [("alice@example.com", "agent_customer_replied")]


def test_a_customer_reply_to_an_unassigned_ticket_mails_every_active_agent_of_its_tier(
    outbox_runs, ticket, alice, bob, mona, dana
):
    staff_user("amy", tier="L1")
    gone = staff_user("ivan", tier="L1")
    gone.is_active = False
    gone.save()
    mute = staff_user("nomail", tier="L1")
    mute.email = ""
    mute.save()
    with outbox_runs():
        services.comment_add(actor=dana, ticket_id=ticket.pk, body="Any news?")
    assert notified(ticket, EventKind.COMMENTED) == [
        ("alice@example.com", "agent_customer_replied"),
        ("amy@example.com", "agent_customer_replied"),
    ]  # not Bob (L2), not Mona (not in L1), not the inactive agent, not the one without an address


def test_a_customer_reply_to_a_waiting_ticket_mails_the_assignee_once(outbox_runs, ticket, as_alice, dana):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which model?")
    with outbox_runs():
        services.comment_add(actor=dana, ticket_id=ticket.pk, body="A P3.")
    assert notified(ticket, EventKind.COMMENTED) == [("alice@example.com", "agent_customer_replied")]
    assert notified(ticket, EventKind.RESUMED) == []


def test_sla_warning_mails_the_agents_of_the_tier(ticket, alice, bob, mona):
    staff_user("amy", tier="L1")
    on_event(sla_event(ticket, EventKind.SLA_WARNING))
    assert notified(ticket, EventKind.SLA_WARNING) == [("alice@example.com", "sla_warning"),
                                                       ("amy@example.com", "sla_warning")]


def test_sla_breach_mails_the_managers_and_superusers(ticket, alice, mona):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    mute = staff_user("mute", manager=True)
    mute.email = ""
    mute.save()
    retired = staff_user("retired", manager=True)
    retired.is_active = False
    retired.save()
    on_event(sla_event(ticket, EventKind.SLA_BREACHED))
    assert notified(ticket, EventKind.SLA_BREACHED) == [("mona@example.com", "sla_breached"),
                                                        ("root@example.com", "sla_breached")]


def test_one_address_gets_one_mail_per_event(ticket, mona):
    twin = staff_user("mona2", manager=True)
    twin.email = "MONA@example.com"
    twin.save()
    assert [m.recipient.lower() for m in plan(sla_event(ticket, EventKind.SLA_BREACHED))] == ["mona@example.com"]


def test_the_actor_is_never_mailed_even_under_another_account_with_the_same_address(outbox_runs, ticket, as_mona):
    alias = staff_user("mona-l1", tier="L1")
    alias.email = "Mona@Example.com"
    alias.save()
    with outbox_runs():
        services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=alias)
    assert notified(ticket, EventKind.ASSIGNED) == []


# --- languages ------------------------------------------------------------------------


def test_the_customer_is_mailed_in_their_language(outbox_runs):
    with outbox_runs():
        russian = make_ticket(requester_email="ivan@example.com", language="ru")
        default = make_ticket(requester_email="erin@example.com")
    assert Notification.objects.get(event__ticket=russian).language == "ru"
    assert Notification.objects.get(event__ticket=default).language == "en"


def test_staff_are_mailed_in_their_own_language(ticket, alice, mona):
    StaffProfile.objects.create(user=alice, language="ru")
    staff_user("amy", tier="L1")
    on_event(sla_event(ticket, EventKind.SLA_WARNING))
    rows = Notification.objects.filter(event__kind=EventKind.SLA_WARNING)
    languages = dict(rows.values_list("recipient", "language"))
    assert languages == {"alice@example.com": "ru", "amy@example.com": "en"}


# --- the outbox -------------------------------------------------------------------------


def test_an_event_is_queued_once_even_if_the_outbox_runs_it_again(ticket, django_capture_on_commit_callbacks):
    event = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)
    with django_capture_on_commit_callbacks() as callbacks:
        on_event(event)
        on_event(event)
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1


def test_notifications_are_written_in_the_outbox_transaction_and_queued_only_after_commit(
    ticket, django_capture_on_commit_callbacks
):
    event = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        assert outbox.dispatch(event.pk)
        assert Notification.objects.count() == 1
        raise RuntimeError("the dispatch rolled back")
    assert Notification.objects.count() == 0
    assert callbacks == []  # nothing is queued for a rolled-back dispatch
    assert Event.objects.get(pk=event.pk).dispatched_at is None
