"""Header injection: whatever a subject contains, the mail has one Subject line and no header it did not mean."""
import pytest

from notifications.messages import one_line
from tests.factories import make_ticket
from tickets import outbox
from tickets.models import Event, Ticket

pytestmark = pytest.mark.django_db

EXPECTED_HEADERS = {"Content-Type", "MIME-Version", "Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
                    "References", "Reply-To"}


@pytest.mark.parametrize(
    "evil",
    [
        "Printer\r\nBcc: evil@example.com",
        "Printer\nBcc: evil@example.com\n\nInjected body",
        "Printer\rBcc: evil@example.com",
        "Printer\u2028Bcc: evil@example.com\x85X-Evil: 1\x0bX-Other: 2\x1c",
    ],
    ids=["crlf", "lf-and-body", "cr", "unicode-separators"],
)
def test_a_subject_with_line_breaks_gives_one_subject_line_and_no_extra_header(smtp, outbox_runs, evil):
    ticket = make_ticket()  # the service itself collapses line breaks; older or imported rows may not
    Ticket.objects.filter(pk=ticket.pk).update(subject=evil)
    with outbox_runs():
        outbox.drain()

    [got] = smtp.received
    assert got.rcpt_tos == ["dana@example.com"]  # no Bcc smuggled into the envelope
    message = got.message
    assert set(message.keys()) == EXPECTED_HEADERS
    assert all(len(message.get_all(name)) == 1 for name in EXPECTED_HEADERS)
    assert "\n" not in got.subject and "\r" not in got.subject
    assert got.subject.startswith(f"[{ticket.reference}] We received your ticket: Printer Bcc: evil@example.com")
    # In the raw header block every line starts a known header or continues the previous one (folding).
    head = got.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for line in head.split("\r\n"):
        assert line[:1] in (" ", "\t") or line.split(":", 1)[0] in EXPECTED_HEADERS, line
    assert not [line for line in head.split("\r\n") if line.lower().startswith(("bcc", "x-evil", "x-other"))]


def test_one_line_collapses_every_line_break_and_control_character():
    assert one_line("a\r\nb\rc\nd\u2028e\u2029f\x85g\x0bh\x0ci\x1cj\x00k\tl") == "a b c d e f g h i j k l"
    assert one_line("  [HD-000001]   We received\r\n\r\n ") == "[HD-000001] We received"


def test_a_staff_subject_is_one_line_too(smtp, ticket, mona):
    from notifications.delivery import retry_due
    from notifications.handlers import on_event

    Ticket.objects.filter(pk=ticket.pk).update(subject="Disk\r\nBcc: evil@example.com")
    on_event(Event.objects.create(ticket=ticket, kind="sla_breached", actor_role="system",
                                  data={"clock": "response\r\nX-Evil: 1", "due_at": ""}))
    assert retry_due() == 1
    [got] = smtp.received
    assert got.rcpt_tos == ["mona@example.com"]
    assert got.subject == f"[{ticket.reference}] SLA breached (response X-Evil: 1): Disk Bcc: evil@example.com"
    assert set(got.message.keys()) == EXPECTED_HEADERS - {"References", "Reply-To"}
