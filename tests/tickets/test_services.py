"""The write path: required fields, roles and tiers, versions, repeats, comments and auto-close."""
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Comment, Event, Ticket, format_reference, parse_reference
from tickets.policy import Actor, available_actions, can
from tickets.tasks import auto_close_resolved
from tickets.workflow import Action, EventKind, Status

pytestmark = pytest.mark.django_db


def kinds(ticket):
    return list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True))


# --- creation, reference, repeats ------------------------------------------


def test_create_opens_a_new_l1_ticket_with_a_created_event(ticket):
    assert ticket.status == Status.NEW
    assert ticket.tier.code == "L1"
    assert ticket.version == 1
    assert ticket.requester.email == "dana@example.com"
    event = Event.objects.get(ticket=ticket)
    assert (event.kind, event.actor_role, event.to_status, event.to_tier.code) == ("created", "customer", "new", "L1")
    assert event.actor_requester == ticket.requester


def test_reference_is_hd_and_six_digits(ticket):
    assert ticket.reference == f"HD-{ticket.pk:06d}"
    assert format_reference(123) == "HD-000123"
    assert format_reference(1234567) == "HD-1234567"
    assert parse_reference("hd-000123") == 123
    assert parse_reference("HD-12x") is None
    assert parse_reference("123") is None


def test_create_rejects_bad_input_and_writes_nothing(db):
    with pytest.raises(TicketError) as refused:
        services.ticket_create(subject=" ", description="", requester_email="not-an-email", priority="P9")
    assert refused.value.code == TicketError.INVALID
    assert set(refused.value.fields) == {"subject", "description", "requester_email", "priority"}
    assert not Ticket.objects.exists()


def test_create_strips_line_breaks_from_subject_and_lowercases_email(db):
    ticket = make_ticket(subject="Broken\r\nBcc: evil@example.com", requester_email="Dana@Example.COM")
    assert ticket.subject == "Broken Bcc: evil@example.com"
    assert ticket.requester.email == "dana@example.com"


# Problems with nothing in common, so that only the category can make a repeat (text similarity: test_repeats.py).
UNLIKE = iter([("Wi-Fi drops", "The wireless network drops."), ("Printer offline", "Cannot print anything."),
               ("Monitor flickers", "The screen flickers."), ("Licence expired", "Visio says the licence ended."),
               ("Chair broken", "A wheel came off."), ("Phone dead", "The desk phone shows nothing.")] * 3)


def unlike_ticket(**overrides):
    subject, description = next(UNLIKE)
    return make_ticket(subject=subject, description=description, **overrides)


def test_same_email_and_category_within_window_is_a_repeat():
    network = CategoryFactory(name="Network", slug="network")
    first = unlike_ticket(category=network)
    second = unlike_ticket(category=network, requester_email="DANA@example.com")
    assert second.repeat_of == first
    linked = Event.objects.get(ticket=second, kind=EventKind.REPEAT_LINKED)
    assert linked.data == {"repeat_of": first.pk, "reference": first.reference, "basis": "category",
                           "similarity": 0.0}
    assert linked.actor_role == "system"


def test_repeat_links_to_the_latest_earlier_ticket():
    network = CategoryFactory(name="Network", slug="network")
    unlike_ticket(category=network)
    latest = unlike_ticket(category=network)
    assert unlike_ticket(category=network).repeat_of == latest


def test_other_category_other_email_or_outside_window_is_not_a_repeat(settings):
    settings.REPEAT_WINDOW_DAYS = 30
    network, access = CategoryFactory(name="Network", slug="network"), CategoryFactory(name="Access", slug="access")
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        unlike_ticket(category=network)
    assert unlike_ticket(category=network).repeat_of is None  # 31 days ago: outside the window
    assert unlike_ticket(category=access).repeat_of is None
    assert unlike_ticket(category=network, requester_email="erin@example.com").repeat_of is None
    assert unlike_ticket().repeat_of is None  # no category, nothing alike: nothing to compare


# --- required fields -------------------------------------------------------


def test_start_resolving_without_diagnosis_is_refused(ticket, as_alice):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_diagnose(actor=as_alice, ticket_id=ticket.pk, affected_item="Printer")
    with pytest.raises(TicketError) as refused:
        services.ticket_start_resolving(actor=as_alice, ticket_id=ticket.pk)
    assert refused.value.code == TicketError.MISSING_FIELDS
    assert refused.value.fields == ["steps_before", "findings"]
    assert "steps before the fault" in str(refused.value)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.DIAGNOSING


def test_resolve_without_summary_is_refused(diagnosed, as_alice):
    services.ticket_start_resolving(actor=as_alice, ticket_id=diagnosed.pk)
    with pytest.raises(TicketError) as refused:
        services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="   ")
    assert refused.value.code == TicketError.MISSING_FIELDS
    assert refused.value.fields == ["resolution_summary"]
    assert Ticket.objects.get(pk=diagnosed.pk).status == Status.RESOLVING


def test_resolved_and_closed_moments_are_the_events_moments(ticket, as_alice):
    """The ticket's resolved_at and closed_at tell exactly the time the event log tells (metrics use both)."""
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    resolved = services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Restarted the spooler",
                                       affected_item="Printer", steps_before="Printed", findings="Spooler hung")
    event = Event.objects.get(ticket=ticket, kind=EventKind.RESOLVED)
    assert resolved.resolved_at == event.at == Ticket.objects.get(pk=ticket.pk).resolved_at
    assert resolved.resolve_business_us is not None
    closed = services.ticket_close(actor=Actor.customer(ticket.requester), ticket_id=ticket.pk, csat=5)
    assert closed.closed_at == Event.objects.get(ticket=ticket, kind=EventKind.CLOSED).at


def test_quick_fix_goes_from_diagnosing_to_resolved_with_diagnosis_and_summary(ticket, as_alice):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with pytest.raises(TicketError) as refused:
        services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Restarted the spooler")
    assert refused.value.fields == ["affected_item", "steps_before", "findings"]
    resolved = services.ticket_resolve(
        actor=as_alice,
        ticket_id=ticket.pk,
        summary="Restarted the spooler",
        affected_item="Printer",
        steps_before="Printed a large PDF",
        findings="Spooler hung",
    )
    assert resolved.status == Status.RESOLVED
    assert resolved.resolved_at is not None
    assert resolved.findings == "Spooler hung"


def test_escalate_without_reason_is_refused(ticket, as_alice):
    with pytest.raises(TicketError) as refused:
        services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="")
    assert refused.value.code == TicketError.MISSING_FIELDS


# --- roles and tiers -------------------------------------------------------


def test_l1_agent_cannot_take_an_l2_ticket_but_a_manager_can(ticket, as_alice, as_mona):
    services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="Needs server access")
    with pytest.raises(TicketError) as refused:
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    assert refused.value.code == TicketError.FORBIDDEN
    assert "L2" in str(refused.value)
    taken = services.ticket_take(actor=as_mona, ticket_id=ticket.pk)
    assert taken.status == Status.DIAGNOSING and taken.assignee.username == "mona"


def test_l2_agent_takes_an_escalated_ticket_with_the_diagnosis(diagnosed, as_alice, as_bob):
    services.ticket_escalate(actor=as_alice, ticket_id=diagnosed.pk, reason="Driver rollback needs admin rights")
    escalated = Ticket.objects.get(pk=diagnosed.pk)
    assert (escalated.status, escalated.tier.code, escalated.assignee) == (Status.NEW, "L2", None)
    taken = services.ticket_take(actor=as_bob, ticket_id=diagnosed.pk)
    assert taken.assignee.username == "bob"
    assert taken.affected_item == "Laptop T14" and taken.findings == "The driver update broke the dock"
    event = Event.objects.get(ticket=diagnosed, kind=EventKind.ESCALATED)
    assert (event.from_tier.code, event.to_tier.code, event.reason) == (
        "L1", "L2", "Driver rollback needs admin rights",
    )


def test_l3_cannot_escalate_further_and_l1_cannot_de_escalate(ticket, as_mona):
    with pytest.raises(TicketError) as refused:
        services.ticket_de_escalate(actor=as_mona, ticket_id=ticket.pk, reason="back")
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION
    services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="up")
    services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="up again")
    with pytest.raises(TicketError) as refused:
        services.ticket_escalate(actor=as_mona, ticket_id=ticket.pk, reason="and again")
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION
    assert "L3" in str(refused.value)


def test_de_escalation_records_the_defect_flag(ticket, as_alice, as_bob):
    services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="Unsure")
    back = services.ticket_de_escalate(actor=as_bob, ticket_id=ticket.pk, reason="Standard L1 fix", defect=True)
    assert (back.tier.code, back.status) == ("L1", Status.NEW)
    assert Event.objects.get(ticket=ticket, kind=EventKind.DE_ESCALATED).data == {"defect": True}


def test_customer_cannot_take_or_act_on_someone_elses_ticket(ticket, dana):
    with pytest.raises(TicketError) as refused:
        services.ticket_take(actor=dana, ticket_id=ticket.pk)
    assert refused.value.code == TicketError.FORBIDDEN
    other = make_ticket(requester_email="erin@example.com")
    with pytest.raises(TicketError) as refused:
        services.comment_add(actor=dana, ticket_id=other.pk, body="hello")
    assert refused.value.code == TicketError.FORBIDDEN
    assert not Comment.objects.exists()


def test_a_user_without_a_role_is_not_an_actor(django_user_model):
    nobody = django_user_model.objects.create_user("nobody")
    with pytest.raises(TicketError) as refused:
        Actor.of_user(nobody)
    assert refused.value.code == TicketError.FORBIDDEN


def test_assign_only_to_someone_who_can_work_on_the_tier(ticket, as_mona, alice, bob):
    with pytest.raises(TicketError) as refused:
        services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=bob)
    assert refused.value.code == TicketError.INVALID
    assigned = services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=alice)
    assert assigned.assignee == alice and assigned.status == Status.NEW
    assert Event.objects.get(ticket=ticket, kind=EventKind.ASSIGNED).data == {"assignee": "alice"}


def test_available_actions_follow_table_role_and_tier(ticket, as_alice, as_bob, dana):
    assert available_actions(as_alice, ticket) == [
        Action.TAKE, Action.ASSIGN, Action.ESCALATE, Action.COMMENT, Action.ATTACH, Action.UPDATE,
        Action.USE_SUGGESTION, Action.UNLINK_REPEAT, Action.MERGE, Action.LINK, Action.TAG,
    ]
    assert available_actions(as_bob, ticket) == []  # L1 ticket, L2 agent: reads, does not act
    assert available_actions(dana, ticket) == [Action.COMMENT, Action.ATTACH]
    assert not can(as_alice, Action.DE_ESCALATE, ticket)  # L1 has no tier below


# --- versions ----------------------------------------------------------------


def test_stale_version_is_refused(ticket, as_alice):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk, version=1)
    with pytest.raises(TicketError) as refused:
        services.ticket_diagnose(actor=as_alice, ticket_id=ticket.pk, findings="x", version=1)
    assert refused.value.code == TicketError.STALE_VERSION
    assert "version 2" in str(refused.value)
    fresh = services.ticket_diagnose(actor=as_alice, ticket_id=ticket.pk, findings="x", version=2)
    assert fresh.version == 3


def test_every_change_bumps_the_version_once(diagnosed):
    assert diagnosed.version == 3  # created 1, taken 2, diagnosed 3
    assert Ticket.objects.get(pk=diagnosed.pk).version == 3


def test_unknown_ticket_is_not_found(as_alice):
    with pytest.raises(TicketError) as refused:
        services.ticket_take(actor=as_alice, ticket_id=999999)
    assert refused.value.code == TicketError.NOT_FOUND


# --- waiting, reopen, close, first response -----------------------------------


def test_wait_then_resume_returns_to_the_previous_status(diagnosed, as_alice):
    services.ticket_start_resolving(actor=as_alice, ticket_id=diagnosed.pk)
    waiting = services.ticket_wait(actor=as_alice, ticket_id=diagnosed.pk, reason="Which dock model?")
    assert (waiting.status, waiting.waiting_from) == (Status.WAITING, Status.RESOLVING)
    resumed = services.ticket_resume(actor=as_alice, ticket_id=diagnosed.pk)
    assert (resumed.status, resumed.waiting_from) == (Status.RESOLVING, "")


def test_customer_reply_resumes_a_waiting_ticket(diagnosed, as_alice, dana):
    services.ticket_wait(actor=as_alice, ticket_id=diagnosed.pk)
    comment = services.comment_add(actor=dana, ticket_id=diagnosed.pk, body="It is a WD19 dock.")
    assert comment.author_role == "customer" and not comment.internal
    assert Ticket.objects.get(pk=diagnosed.pk).status == Status.DIAGNOSING
    assert kinds(diagnosed)[-2:] == [EventKind.COMMENTED, EventKind.RESUMED]


def test_customer_cannot_write_internal_notes(ticket, dana):
    with pytest.raises(TicketError) as refused:
        services.comment_add(actor=dana, ticket_id=ticket.pk, body="secret", internal=True)
    assert refused.value.code == TicketError.FORBIDDEN


def test_empty_comment_is_refused(ticket, as_alice):
    with pytest.raises(TicketError) as refused:
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="  ")
    assert refused.value.code == TicketError.MISSING_FIELDS


def test_first_response_is_the_first_public_reply_or_transition_by_staff(ticket, as_alice):
    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="internal", internal=True)
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None
    replied = services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="We are on it")
    first = Ticket.objects.get(pk=ticket.pk).first_response_at
    assert first == replied.created_at
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == first  # set once


def test_customer_confirms_with_a_rating(diagnosed, as_alice, dana):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Rolled back the driver")
    closed = services.ticket_close(actor=dana, ticket_id=diagnosed.pk, csat=5, comment="Quick, thanks")
    assert (closed.status, closed.csat_rating, closed.csat_comment) == (Status.CLOSED, 5, "Quick, thanks")
    assert closed.closed_at is not None
    assert Event.objects.filter(ticket=diagnosed).latest("id").data == {"csat": 5}


@pytest.mark.parametrize("rating", [0, 6, "5", 4.5, True])
def test_rating_outside_1_to_5_is_refused(diagnosed, as_alice, dana, rating):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Done")
    with pytest.raises(TicketError) as refused:
        services.ticket_close(actor=dana, ticket_id=diagnosed.pk, csat=rating)
    assert refused.value.code == TicketError.INVALID
    assert Ticket.objects.get(pk=diagnosed.pk).status == Status.RESOLVED


def test_agents_cannot_rate_on_the_customers_behalf(diagnosed, as_alice):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Done")
    with pytest.raises(TicketError) as refused:
        services.ticket_close(actor=as_alice, ticket_id=diagnosed.pk, csat=5)
    assert refused.value.code == TicketError.FORBIDDEN


def test_reopen_keeps_tier_and_assignee_and_counts(diagnosed, as_alice, dana):
    services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Done")
    reopened = services.ticket_reopen(actor=dana, ticket_id=diagnosed.pk, reason="The dock fails again")
    assert (reopened.status, reopened.tier.code, reopened.assignee.username) == (Status.DIAGNOSING, "L1", "alice")
    assert reopened.reopen_count == 1
    assert Event.objects.filter(ticket=diagnosed).latest("id").reason == "The dock fails again"


def test_auto_close_closes_only_resolved_tickets_silent_for_auto_close_days(settings, as_alice):
    settings.AUTO_CLOSE_DAYS = 3
    old, recent, reopened = make_ticket(), make_ticket(), make_ticket()
    for t in (old, recent, reopened):
        services.ticket_take(actor=as_alice, ticket_id=t.pk)
    with time_machine.travel(timezone.now() - timedelta(days=4)):
        for t in (old, reopened):
            services.ticket_resolve(
                actor=as_alice, ticket_id=t.pk, summary="Fixed", affected_item="x", steps_before="y", findings="z"
            )
    services.ticket_resolve(
        actor=as_alice, ticket_id=recent.pk, summary="Fixed", affected_item="x", steps_before="y", findings="z"
    )
    services.ticket_reopen(actor=as_alice, ticket_id=reopened.pk, reason="Customer called: still broken")

    assert auto_close_resolved() == 1
    assert auto_close_resolved() == 0  # idempotent
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses == {old.pk: Status.CLOSED, recent.pk: Status.RESOLVED, reopened.pk: Status.DIAGNOSING}
    closing = Event.objects.get(ticket=old, kind=EventKind.CLOSED)
    assert (closing.actor_role, closing.actor, closing.data) == ("system", None, {"auto": True})


def test_an_upload_name_loses_control_and_direction_characters_whatever_the_entry_point():
    """The service itself cleans the name: NUL and control characters become spaces, a right-to-left override
    (which would show "gpj.exe" as "exe.jpg") disappears."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("rep\x00ort\u202egpj.txt", b"plain text", content_type="text/plain")
    assert services.check_upload(upload) == "rep ortgpj.txt"
