"""What arrives at a real SMTP server: recipients, subject, links, language, both parts, threading headers.

Every mail goes the production way: a service call commits an event, the
outbox hands it to the subscriber, the send task (eager) claims the row and
talks SMTP to an aiosmtpd server on 127.0.0.1.
"""
import re

import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

from notifications.models import Notification
from tests.factories import make_ticket
from tickets import services
from tickets.models import Event
from tickets.policy import Actor
from tickets.portal.tokens import tracking_url
from tickets.workflow import EventKind
from tiers.models import StaffProfile

pytestmark = pytest.mark.django_db

DANA = "dana@example.com"
NOTE = "NOTE-7f3a: the admin password is hunter2"


def ru(msgid: str, **values) -> str:
    """The Russian catalogue's translation of an English message."""
    with translation.override("ru"):
        text = gettext(msgid)
    assert text != msgid, f"{msgid!r} is not translated"
    return text % values if values else text


def only(messages):
    assert len(messages) == 1, [m.subject for m in messages]
    return messages[0]


def parts(got) -> list[str]:
    return [part.get_content_type() for part in got.message.walk()]


def test_a_new_ticket_reaches_the_customer_with_the_tracking_link(smtp, outbox_runs):
    with outbox_runs():
        ticket = make_ticket(subject="Printer jams")
    got = only(smtp.received)
    notification = Notification.objects.get()
    event = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)

    assert got.rcpt_tos == [DANA]
    assert got.mail_from == "support@localhost"
    message = got.message
    assert message["To"] == DANA
    assert message["From"] == "Tierdesk <support@localhost>"
    assert got.subject == f"[{ticket.reference}] We received your ticket: Printer jams"
    assert parts(got) == ["multipart/alternative", "text/plain", "text/html"]
    link = tracking_url(ticket)
    assert link.startswith("http://127.0.0.1:8000/support/t/")
    assert link in got.text and f'href="{link}"' in got.html
    assert "Hello Dana," in got.text and "Printer jams" in got.text
    assert '<html lang="en">' in got.html
    # Threading: this mail's own id, and the ticket's first message id.
    assert message["Message-ID"] == f"<tierdesk.event-{event.pk}.{notification.pk}@localhost>"
    assert message["References"] == f"<tierdesk.ticket-{ticket.pk}@localhost>"
    assert message["Auto-Submitted"] == "auto-generated"
    # Replies go to the sender address while no separate support mailbox is set.
    assert message["Reply-To"] == "Tierdesk <support@localhost>"
    assert "reply to this e-mail" not in got.text

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")
    assert notification.sent_at is not None


def test_a_russian_customer_gets_russian(smtp, outbox_runs):
    with outbox_runs():
        ticket = make_ticket(subject="Принтер", requester_name="Иван", requester_email="ivan@example.com",
                             language="ru")
    got = only(smtp.to("ivan@example.com"))
    assert got.subject == f"[{ticket.reference}] {ru('We received your ticket')}: Принтер"
    sentence = ru("We received your ticket and gave it the reference %(reference)s. A support agent will look at "
                  "it soon.", reference=ticket.reference)
    for body in (got.text, got.html):
        assert sentence in body
        assert ru("Hello %(name)s,", name="Иван") in body
        assert ru("Follow your ticket, add details or answer our questions here:") in body
        assert tracking_url(ticket) in body
        assert "We received" not in body and "Hello" not in body
    assert '<html lang="ru">' in got.html


def test_an_agent_reply_reaches_the_customer_with_its_text_escaped_in_html(smtp, outbox_runs, ticket, as_alice):
    with outbox_runs():
        services.comment_add(actor=as_alice, ticket_id=ticket.pk,
                             body="Open the tray & pull <b>gently</b>.\nThen retry.")
    got = only(smtp.to(DANA))
    assert got.subject == f"[{ticket.reference}] New reply from support: {ticket.subject}"
    assert "Open the tray & pull <b>gently</b>.\nThen retry." in got.text
    assert "Open the tray &amp; pull &lt;b&gt;gently&lt;/b&gt;.<br>Then retry." in got.html
    assert "<b>gently" not in got.html
    assert tracking_url(ticket) in got.text and tracking_url(ticket) in got.html
    assert got.message["References"] == f"<tierdesk.ticket-{ticket.pk}@localhost>"


def test_the_waiting_resolved_and_closed_mails_in_russian(smtp, outbox_runs, as_alice):
    ticket = make_ticket(requester_email="ivan@example.com", language="ru")
    customer = Actor.customer(ticket.requester)
    with outbox_runs():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Какая модель принтера?")
    waiting = only(smtp.to("ivan@example.com"))
    assert waiting.subject == f"[{ticket.reference}] {ru('We need your answer')}: {ticket.subject}"
    assert "Какая модель принтера?" in waiting.text and "Какая модель принтера?" in waiting.html
    assert ru("Our question:") in waiting.text

    with outbox_runs():
        services.comment_add(actor=customer, ticket_id=ticket.pk, body="HP")
        services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Internal: swapped the fuser",
                                affected_item="a", steps_before="b", findings="c")
    resolved = only(smtp.to("ivan@example.com")[1:])
    assert resolved.subject == f"[{ticket.reference}] {ru('Resolved — please confirm')}: {ticket.subject}"
    with translation.override("ru"):
        auto_close = ngettext(
            "If we do not hear from you, the ticket is closed automatically after %(days)s day.",
            "If we do not hear from you, the ticket is closed automatically after %(days)s days.", 3,
        ) % {"days": 3}
    assert auto_close in resolved.text and "3 дня" in auto_close
    assert tracking_url(ticket) in resolved.text and tracking_url(ticket) in resolved.html
    assert "swapped the fuser" not in resolved.text  # the resolution summary is the agents' record

    with outbox_runs():
        services.ticket_close(actor=customer, ticket_id=ticket.pk, csat=5)
    closed = only(smtp.to("ivan@example.com")[2:])
    assert closed.subject == f"[{ticket.reference}] {ru('Closed — thank you')}: {ticket.subject}"
    help_line = ru("If the problem comes back or you need help with something else, report a new problem at any "
                   "time:")
    assert help_line in closed.text
    assert "http://127.0.0.1:8000/support/" in closed.text


def test_an_agent_is_mailed_in_their_language_with_a_desk_link(smtp, outbox_runs, ticket, alice, as_mona):
    StaffProfile.objects.create(user=alice, language="ru")
    with outbox_runs():
        services.ticket_assign(actor=as_mona, ticket_id=ticket.pk, assignee=alice)
    got = only(smtp.to("alice@example.com"))
    assert got.subject == f"[{ticket.reference}] {ru('Assigned to you')}: {ticket.subject}"
    sentence = ru("%(actor)s assigned ticket %(reference)s to you.", actor="mona", reference=ticket.reference)
    assert sentence in got.text and sentence in got.html
    desk = f"http://127.0.0.1:8000/desk/t/{ticket.pk}/"
    assert desk in got.text and f'href="{desk}"' in got.html
    assert got.message["References"] is None  # staff mails are not part of the customer's thread
    assert got.message["Reply-To"] is None  # agents answer in the desk, not by mail
    assert tracking_url(ticket) not in got.text  # nor do they carry the customer's private link


def test_the_customer_reply_reaches_the_assignee(smtp, outbox_runs, ticket, as_alice, dana):
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with outbox_runs():
        services.comment_add(actor=dana, ticket_id=ticket.pk, body="Still <jams> on page 2")
    got = only(smtp.received)
    assert got.rcpt_tos == ["alice@example.com"]
    assert got.subject == f"[{ticket.reference}] The customer replied: {ticket.subject}"
    assert "Still <jams> on page 2" in got.text
    assert "Still &lt;jams&gt; on page 2" in got.html


def test_internal_notes_are_never_in_any_customer_mail(smtp, outbox_runs, as_alice):
    """A whole ticket life with internal notes in between: the customer's mails never quote one."""
    ticket = make_ticket()
    customer = Actor.customer(ticket.requester)
    with outbox_runs():
        services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=NOTE, internal=True)
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body="Which tray do you use?")
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=NOTE + " (again)", internal=True)
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which tray?")
        services.comment_add(actor=customer, ticket_id=ticket.pk, body="Tray 2")
        services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=NOTE + " (third)", internal=True)
        services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="Cleaned tray 2", affected_item="a",
                                steps_before="b", findings="c")
        services.ticket_close(actor=customer, ticket_id=ticket.pk, csat=4)
    to_customer = smtp.to(DANA)
    assert [re.sub(r"^\[HD-\d+\] ", "", m.subject).split(":")[0] for m in to_customer] == [
        "New reply from support", "We need your answer", "Resolved — please confirm", "Closed — thank you",
    ]
    for got in to_customer:
        assert "NOTE-7f3a" not in got.raw.decode("ascii", "replace")
        assert "NOTE-7f3a" not in got.text and "NOTE-7f3a" not in got.html
        assert "hunter2" not in got.text + got.html + got.subject
    assert not Notification.objects.filter(event__ticket=ticket, event__data__internal=True).exists()


def test_a_forged_customer_mail_about_an_internal_note_is_refused_not_sent(smtp, ticket, as_alice):
    from notifications.delivery import send

    services.comment_add(actor=as_alice, ticket_id=ticket.pk, body=NOTE, internal=True)
    event = Event.objects.get(ticket=ticket, kind=EventKind.COMMENTED)
    forged = Notification.objects.create(event=event, recipient=DANA, template="customer_reply", language="en")
    assert send(forged.pk) == "failed"
    forged.refresh_from_db()
    assert forged.last_error == "Rendering failed: RenderError: Not a public reply: refused for a customer mail."
    assert smtp.received == []


def test_the_sla_mails_keep_their_wording(smtp, ticket, alice, mona):
    from notifications.delivery import retry_due
    from notifications.handlers import on_event

    for kind, clock in ((EventKind.SLA_WARNING, "response"), (EventKind.SLA_BREACHED, "resolution")):
        on_event(Event.objects.create(ticket=ticket, kind=kind, actor_role="system", to_tier=ticket.tier,
                                      data={"clock": clock, "due_at": "2026-11-23T11:00:00+00:00"}))
    assert retry_due() == 2
    warning = only(smtp.to("alice@example.com"))
    assert warning.subject == f"[{ticket.reference}] SLA warning (response): {ticket.subject}"
    assert f"Ticket {ticket.reference} has used 80 % of its response time." in warning.text
    assert "Deadline: 2026-11-23 11:00 UTC" in warning.text
    breach = only(smtp.to("mona@example.com"))
    assert breach.subject == f"[{ticket.reference}] SLA breached (resolution): {ticket.subject}"
    assert f"The resolution deadline of ticket {ticket.reference} has passed." in breach.text
    assert parts(breach) == ["multipart/alternative", "text/plain", "text/html"]


def test_message_ids_use_the_domain_of_the_sender(smtp, outbox_runs, settings):
    settings.DEFAULT_FROM_EMAIL = "IT Help <help@desk.example.org>"
    with outbox_runs():
        ticket = make_ticket()
    got = only(smtp.received)
    notification = Notification.objects.get()
    assert got.message["Message-ID"] == f"<tierdesk.event-{notification.event_id}.{notification.pk}@desk.example.org>"
    assert got.message["References"] == f"<tierdesk.ticket-{ticket.pk}@desk.example.org>"
    assert got.mail_from == "help@desk.example.org"


def test_customer_mails_ask_for_replies_at_the_support_mailbox(smtp, outbox_runs, settings):
    settings.INBOUND_ADDRESS = "helpdesk@desk.example.org"
    with outbox_runs():
        make_ticket()
    got = only(smtp.received)
    assert got.message["Reply-To"] == "helpdesk@desk.example.org"
    sentence = "You can also reply to this e-mail: your reply is added to the ticket."
    assert sentence in got.text and sentence in got.html
