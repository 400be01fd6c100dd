"""Inbound mail routed end to end: each corpus message gives the right ticket, comment, ignored or quarantined
record, checked field by field; plus threading by our own Message-IDs, the sender check, files, loops and
exactly-once delivery.

Replies in the corpus refer to tickets by number (``[HD-000042]``); the test opens a ticket with that number for
the sender (and brings it to the status named in the row) before the mail arrives.
"""
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.db import connection

from inbound.models import InboundMessage
from inbound.services import clean_subject, confirms_fix, receive
from notifications.messages import ticket_thread_id
from tests.factories import make_ticket
from tickets import services
from tickets.models import Attachment, Comment, Event, Requester, Ticket
from tickets.policy import Actor
from tickets.workflow import EventKind, Status

CORPUS = Path(__file__).parent / "corpus"
Outcome = InboundMessage.Outcome


@dataclass(frozen=True)
class Opens:
    """A new e-mail ticket."""

    subject: str
    requester: tuple[str, str]  # e-mail, name
    description_has: tuple[str, ...]
    description_lacks: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # files named in a "was not attached" line
    language: str = ""


@dataclass(frozen=True)
class Replies:
    """A public comment by the requester on ticket number `number`, which was `before` and is then `after`."""

    number: int
    before: str
    after: str
    comment_has: tuple[str, ...]
    comment_lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ignored:
    why: str


@dataclass(frozen=True)
class Quarantined:
    why: str
    subject: str  # read from the raw headers, for the admin list


CASES = {
    "01-plain-ascii.eml": Opens(
        subject='Printer on 3rd floor shows "Paper jam" but tray is empty',
        requester=("john.smith@example.com", "Smith, John"),
        description_has=('The HP LaserJet next to room 3.14 shows "Paper jam in tray 2"', "Asset tag: PRN-0317"),
    ),
    "02-utf8-quoted-printable.eml": Opens(
        subject="Accès VPN refusé depuis la mise à jour",
        requester=("renee.dupont@example.fr", "Renée Dupont"),
        description_has=("Depuis la mise à jour de ce matin, le client VPN refuse ma c",),
    ),
    "03-base64-body.eml": Opens(
        subject="New starter: account request",
        requester=("hr@example.com", "HR Department"),
        description_has=("Please create an account for our new hire", "Ólafur"),
    ),
    "04-koi8r.eml": Opens(
        subject="Не работает принтер на 3 этаже",
        requester=("s.kuznetsov@example.ru", "Сергей Кузнецов"),
        description_has=("Принтер HP на третьем этаже печатает пустые листы.",),
        language="ru",
    ),
    "05-windows-1251.eml": Opens(
        subject="Ошибка входа в 1С",
        requester=("i.petrov@example.ru", "Иван Петров"),
        description_has=("Не могу войти в 1С: после ввода пароля появляется ошибк",),
        language="ru",
    ),
    "06-alternative-text-wins.eml": Opens(
        subject="Outlook keeps asking for my password",
        requester=("lena.fischer@example.de", "Lena Fischer"),
        description_has=("My Outlook keeps asking for the password every few minutes",),
    ),
    "07-alternative-html-first.eml": Opens(
        subject="Cannot print shipping labels",
        requester=("orders@shop.example", "Webshop Orders"),
        description_has=("The label printer in dispatch prints only half of each label.",),
        description_lacks=("<", "font-family"),
    ),
    "08-html-only.eml": Opens(
        subject="Shared drive not mapping",
        requester=("priya.n@example.in", "Priya Natarajan"),
        description_has=("The shared drive (S:) is not mapping on my laptop",),
        description_lacks=("<script", "alert(", "<img", "tracker", "onerror", "<p", "<b>"),
    ),
    "09-pdf-and-png.eml": Opens(
        subject="Toner order and screenshot of the error",
        requester=("tom.becker@example.com", "Tom Becker"),
        description_has=("Attached is the toner order form and a screenshot",),
        files=("toner-order-2026-11.pdf", "driver-error.png"),
    ),
    "10-rfc2231-filenames.eml": Opens(
        subject="Reports for the monthly review",
        requester=("o.smirnova@example.ru", "Olga Smirnova"),
        description_has=("Three files for the monthly review are attached.",),
        files=("Отчёт об инцидентах — ноябрь 2026.xlsx", "Bestellbestätigung.pdf", "Скан 24.11.2026.pdf"),
    ),
    "11-path-traversal-filenames.eml": Opens(
        subject="Your invoice documents",
        requester=("billing@suspicious.example", "Invoice Desk"),
        description_has=("Please see the attached documents.",),
        refused=("passwd", "shell.php", "authorized_keys", "boot.ini"),
    ),
    "12-text-attachment-not-body.eml": Opens(
        subject="VPN drops every few minutes (log attached)",
        requester=("mark.olsen@example.no", "Mark Olsen"),
        description_has=("The VPN drops every few minutes. The client log is attached.",),
        files=("vpnagent.log",),
    ),
    "13-gmail-reply.eml": Replies(
        31, before=Status.RESOLVED, after=Status.CLOSED,
        comment_has=("Thanks, that fixed it. The printer on floor 3 works again.",),
        comment_lacks=("wrote:", ">"),
    ),
    "14-gmail-reply-wrapped-attribution.eml": Replies(
        57, before=Status.RESOLVED, after=Status.DIAGNOSING,
        comment_has=("it still drops 40% overnight",),
        comment_lacks=("wrote:",),
    ),
    "15-outlook-original-message.eml": Replies(
        42, before=Status.WAITING, after=Status.DIAGNOSING,
        comment_has=("It is still jamming after the roller swap.",),
        comment_lacks=("Original Message", "From: Support"),
    ),
    "16-outlook-header-block.eml": Replies(
        50, before=Status.RESOLVED, after=Status.CLOSED,
        comment_has=("Yes, the new cable solved it. You can close the ticket.",),
        comment_lacks=("From: Support", "Subject:"),
    ),
    "17-russian-reply.eml": Replies(
        63, before=Status.RESOLVED, after=Status.CLOSED,
        comment_has=("Спасибо, всё заработало.",),
        comment_lacks=("написал",),
    ),
    "18-reply-threading.eml": Replies(
        42, before=Status.DIAGNOSING, after=Status.DIAGNOSING,
        comment_has=("No jams since yesterday afternoon. Thanks!",),
    ),
    "19-signature.eml": Opens(
        subject="VPN client disconnects",
        requester=("john.smith@example.com", "John Smith"),
        description_has=("The VPN client disconnects every time the laptop wakes from sleep",),
        description_lacks=("Mobile:",),
    ),
    "20-out-of-office.eml": Ignored("Auto-Submitted: auto-replied"),
    "21-x-autoreply.eml": Ignored("X-Autoreply: yes"),
    "22-x-autorespond.eml": Ignored("X-Autorespond"),
    "23-precedence-auto-reply.eml": Ignored("Precedence: auto_reply"),
    "24-precedence-bulk.eml": Ignored("Precedence: bulk"),
    "25-mailing-list.eml": Ignored("mailing list (List-Id)"),
    "26-list-unsubscribe.eml": Ignored("mailing list (List-Unsubscribe)"),
    "27-auto-generated-alert.eml": Ignored("Auto-Submitted: auto-generated"),
    "28-bounce-mailer-daemon.eml": Ignored("Auto-Submitted: auto-replied"),
    "29-dsn-postmaster.eml": Ignored("sent by postmaster@contoso.example"),
    "30-qmail-bounce.eml": Ignored("sent by mailer-daemon@mail.example.org"),
    "31-read-receipt.eml": Ignored("delivery report"),
    "32-no-message-id.eml": Opens(
        subject="Hardware request from the intranet form",
        requester=("webform@intranet.example.com", "Intranet Form"),
        description_has=("Requester: Carla Mendes", "Item: USB-C docking station"),
    ),
    "33-long-folded-subject.eml": Opens(
        # 200 characters at most, cut at a word; the whole subject opens the description.
        subject="Since the Windows update on Monday the docking station in meeting room 4.02 no longer detects the "
                "second monitor, the USB keyboard only works in the left port and the network connection drops…",
        requester=("henrik.larsen@example.dk", "Henrik Larsen"),
        description_has=("the network connection drops whenever the laptop lid is closed\n\nSee subject. Affects "
                         "every laptop we tried.",),
    ),
    "34-long-encoded-subject.eml": Opens(
        subject="Не приходят письма от поставщиков на общий ящик закупок после переноса почты",
        requester=("a.volkov@example.ru", "Алексей Волков"),
        description_has=("Проверьте, пожалуйста, правила пересылки.",),
        language="ru",
    ),
    "35-attachment-only.eml": Opens(
        subject="Scan from MFP-2F",
        requester=("scanner-2f@example.com", "Scanner 2nd Floor"),
        description_has=("(see the attached files)",),
        files=("scan_20261127_101502.pdf",),
    ),
    "36-pasted-traceback.eml": Opens(
        subject="Nightly export script fails",
        requester=("wei.zhang@example.com", "Wei Zhang"),
        description_has=("The nightly export script fails since Monday.",
                         '\n  File "C:\\Scripts\\export.py", line 42, in <module>\n'),
    ),
    "37-apple-mail-inline-attachment.eml": Opens(
        subject="Invoice template prints the logo twice",
        requester=("sara.lind@example.se", "Sara Lind"),
        description_has=("Since the update the invoice template prints our logo twice.",),
        files=("invoice-template-v3.pdf",),
    ),
    "38-smime-signed-attachment.eml": Opens(
        subject="Firewall change FW-2211 for tonight",
        requester=("anders.holm@example.se", "Anders Holm"),
        description_has=("Please apply the attached firewall change in tonight's window.",),
        files=("FW-2211.pdf",),
        refused=("smime.p7s",),
    ),
    "39-forwarded-as-attachment.eml": Opens(
        subject="Your mailbox is full",
        requester=("nina.berg@example.com", "Nina Berg"),
        description_has=("This arrived this morning and looks like phishing.",),
        files=("Your mailbox is full.eml",),
    ),
    "40-single-part-attachment.eml": Opens(
        subject="Weekly backup report",
        requester=("backup-reports@example.com", "Backup Reports"),
        description_has=("(see the attached files)",),
        files=("backup-report-2026-11-27.pdf",),
    ),
    "41-malformed-no-from.eml": Quarantined("no From header", subject="Test from the new CRM integration"),
    "42-malformed-from-garbage.eml": Quarantined("no sender address in From", subject="cron output"),
}


def test_every_corpus_file_has_a_case():
    assert sorted(path.name for path in CORPUS.glob("*.eml")) == sorted(CASES)
    assert len(CASES) >= 25


def ticket_numbered(number: int, **values) -> Ticket:
    """A ticket whose id is `number` (the next id is set first; ids above every existing one only)."""
    assert not Ticket.objects.filter(pk__gte=number).exists()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s)", [number - 1])
        else:
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = 'tickets_ticket'")
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('tickets_ticket', %s)", [number - 1])
    ticket = make_ticket(**values)
    assert ticket.pk == number
    return ticket


def bring_to(ticket: Ticket, status: str, agent: Actor) -> Ticket:
    if status == Status.NEW:
        return ticket
    services.ticket_take(actor=agent, ticket_id=ticket.pk)
    if status == Status.WAITING:
        services.ticket_wait(actor=agent, ticket_id=ticket.pk, reason="Which tray did you use?")
    elif status == Status.RESOLVED:
        services.ticket_resolve(actor=agent, ticket_id=ticket.pk, summary="Replaced the part.",
                                affected_item="The device", steps_before="Nothing special", findings="Worn part")
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_message_is_routed(name, db, as_alice):
    expected = CASES[name]
    raw = (CORPUS / name).read_bytes()
    before = None
    if isinstance(expected, Replies):
        from inbound.parsing import parse

        sender = parse(raw).sender_email
        before = bring_to(ticket_numbered(expected.number, requester_email=sender), expected.before, as_alice)
    tickets_before = Ticket.objects.count()

    record, new = receive(raw, source=InboundMessage.Source.COMMAND)

    assert new
    record.refresh_from_db()
    assert bytes(record.raw) == raw and record.size == len(raw) and record.complete
    if isinstance(expected, Opens):
        check_opened(record, expected, tickets_before)
    elif isinstance(expected, Replies):
        check_replied(record, expected, before, tickets_before)
    elif isinstance(expected, Ignored):
        assert record.outcome == Outcome.IGNORED
        assert expected.why in record.reason
        assert record.ticket is None and record.comment is None
        assert Ticket.objects.count() == tickets_before and not Comment.objects.exists()
    else:
        assert record.outcome == Outcome.QUARANTINED
        assert expected.why in record.reason and record.subject == expected.subject
        assert record.ticket is None and Ticket.objects.count() == tickets_before


def check_opened(record: InboundMessage, expected: Opens, tickets_before: int):
    assert record.outcome == Outcome.OPENED, record.reason
    assert Ticket.objects.count() == tickets_before + 1
    ticket = Ticket.objects.select_related("requester", "tier").get()
    assert record.ticket == ticket and record.comment is None
    assert ticket.subject == expected.subject
    assert (ticket.requester.email, ticket.requester.name) == expected.requester
    assert record.sender == expected.requester[0]
    assert ticket.requester.language == expected.language
    assert (ticket.channel, ticket.status, ticket.tier.code, ticket.priority) == ("email", "new", "L1", "P3")
    assert ticket.created_by is None and ticket.first_response_at is None
    for text in expected.description_has:
        assert text in ticket.description
    for text in expected.description_lacks:
        assert text not in ticket.description
    files = list(Attachment.objects.filter(ticket=ticket).order_by("id").values_list("original_name", flat=True))
    assert files == list(expected.files)
    for name in expected.refused:
        assert f"“{name}” was not attached" in ticket.description
        assert f"“{name}” was not attached" in record.reason
    if not expected.refused:
        assert "was not attached" not in ticket.description
    created = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)
    assert created.actor_role == "customer" and created.actor_requester == ticket.requester
    assert created.data["channel"] == "email"


def check_replied(record: InboundMessage, expected: Replies, before: Ticket, tickets_before: int):
    assert record.outcome == Outcome.REPLIED, record.reason
    assert Ticket.objects.count() == tickets_before
    ticket = Ticket.objects.get(pk=before.pk)
    assert record.ticket == ticket
    comment = Comment.objects.get(ticket=ticket)
    assert record.comment == comment
    assert (comment.author_role, comment.author_requester, comment.internal) == ("customer", ticket.requester, False)
    for text in expected.comment_has:
        assert text in comment.body
    for text in expected.comment_lacks:
        assert text not in comment.body
    assert ticket.status == expected.after
    if expected.before == Status.RESOLVED and expected.after == Status.DIAGNOSING:
        assert ticket.reopen_count == 1
        assert Event.objects.get(ticket=ticket, kind=EventKind.REOPENED).actor_role == "customer"
    if expected.after == Status.CLOSED:
        assert ticket.csat_rating is None and ticket.closed_at is not None
        assert Event.objects.get(ticket=ticket, kind=EventKind.CLOSED).actor_role == "customer"


# --- threading and the sender check ---------------------------------------------------------------------------


def mail(*, sender="dana@example.com", subject="Re: hello", body="More details.", **headers) -> bytes:
    message = EmailMessage()
    message["From"] = f"Dana <{sender}>"
    message["To"] = "support@localhost"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def test_a_reply_threads_by_the_message_id_of_the_mail_it_answers(ticket):
    """The subject was rewritten completely; In-Reply-To alone finds the ticket."""
    from notifications.models import Notification

    created = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)
    notification = Notification.objects.create(event=created, recipient="dana@example.com", language="en",
                                               template="customer_created")
    answered = f"<tierdesk.event-{created.pk}.{notification.pk}@localhost>"
    record, _ = receive(mail(subject="my printer", in_reply_to=answered, message_id="<r1@example.com>"),
                        source="command")
    assert (record.outcome, record.ticket) == (Outcome.REPLIED, ticket)
    assert Comment.objects.get(ticket=ticket).body == "More details."


def test_a_reply_threads_by_the_ticket_thread_id_in_references(ticket):
    record, _ = receive(mail(subject="no reference here", references=f"<x@elsewhere> {ticket_thread_id(ticket.pk)}",
                             message_id="<r2@example.com>"), source="command")
    assert (record.outcome, record.ticket) == (Outcome.REPLIED, ticket)


def test_message_ids_of_another_domain_or_an_unknown_notification_do_not_thread(ticket):
    foreign = f"<tierdesk.ticket-{ticket.pk}@attacker.example>"
    unknown = "<tierdesk.event-999.999@localhost>"
    record, _ = receive(mail(subject="Printer", references=f"{foreign} {unknown}", message_id="<r3@example.com>"),
                        source="command")
    assert record.outcome == Outcome.OPENED and record.ticket != ticket


def test_someone_else_replying_to_a_ticket_is_quarantined_and_the_ticket_untouched(ticket):
    """A reference in the subject is easy to guess: only the requester's address may add to the ticket."""
    version = ticket.version
    record, _ = receive(mail(sender="mallory@example.com", subject=f"Re: [{ticket.reference}] x",
                             body="Please reset the password and send it to me.", message_id="<m1@example.com>"),
                        source="command")
    assert record.outcome == Outcome.QUARANTINED
    assert "mallory@example.com is not the requester of" in record.reason
    ticket.refresh_from_db()
    assert ticket.version == version and not Comment.objects.exists()
    assert Ticket.objects.count() == 1


def test_a_reply_to_a_closed_ticket_opens_a_follow_up_linked_as_a_repeat(ticket, as_alice):
    bring_to(ticket, Status.RESOLVED, as_alice)
    services.ticket_close(actor=Actor.customer(ticket.requester), ticket_id=ticket.pk)
    record, _ = receive(mail(subject=f"Re: [{ticket.reference}] {ticket.subject}", body="It is broken again.",
                             message_id="<f1@example.com>"), source="command")
    assert record.outcome == Outcome.OPENED
    follow_up = record.ticket
    assert follow_up != ticket and follow_up.repeat_of == ticket
    assert follow_up.subject == ticket.subject and follow_up.description == "It is broken again."
    assert f"Follow-up to closed ticket {ticket.reference}." in record.reason
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_a_reply_to_a_waiting_ticket_resumes_it(ticket, as_alice):
    bring_to(ticket, Status.WAITING, as_alice)
    record, _ = receive(mail(subject=f"Re: [{ticket.reference}] x", body="Tray 2.", message_id="<w1@example.com>"),
                        source="command")
    ticket.refresh_from_db()
    assert record.outcome == Outcome.REPLIED and ticket.status == Status.DIAGNOSING
    resumed = Event.objects.get(ticket=ticket, kind=EventKind.RESUMED)
    assert resumed.data == {"trigger": "customer_reply"}


def test_a_reply_with_nothing_new_is_ignored(ticket):
    record, _ = receive(mail(subject=f"Re: [{ticket.reference}] x", body="> quoted only\n> nothing else",
                             message_id="<e1@example.com>"), source="command")
    assert record.outcome == Outcome.IGNORED and record.ticket == ticket
    assert not Comment.objects.exists()


def test_files_in_a_reply_are_attached_to_the_ticket(ticket):
    message = EmailMessage()
    message["From"] = "dana@example.com"
    message["Subject"] = f"Re: [{ticket.reference}] Printer"
    message["Message-ID"] = "<a1@example.com>"
    message.set_content("The log you asked for.")
    message.add_attachment(b"line 1\nline 2\n", maintype="text", subtype="plain", filename="printer.log")
    message.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="fix.exe")
    record, _ = receive(message.as_bytes(), source="command")
    assert record.outcome == Outcome.REPLIED
    [attachment] = Attachment.objects.filter(ticket=ticket)
    assert attachment.original_name == "printer.log" and attachment.file.read() == b"line 1\nline 2\n"
    assert attachment.uploaded_by_requester == ticket.requester
    comment = Comment.objects.get(ticket=ticket)
    assert comment.body.startswith("The log you asked for.")
    assert "[“fix.exe” was not attached: Files of type “exe” are not accepted.]" in comment.body


# --- loops, storms and exactly once ------------------------------------------------------------------------------


def test_mail_from_the_help_desk_itself_is_ignored(db, settings):
    settings.INBOUND_ADDRESS = "helpdesk@example.org"
    for number, sender in enumerate(["support@localhost", "helpdesk@example.org"]):
        record, _ = receive(mail(sender=sender, subject="Loop?", message_id=f"<own{number}@example.org>"),
                            source="command")
        assert record.outcome == Outcome.IGNORED and record.reason == "Sent by the help desk itself."
    assert not Ticket.objects.exists()


def test_automatic_replies_never_open_a_ticket_so_nothing_is_sent_back(db, mailoutbox):
    raw = (CORPUS / "20-out-of-office.eml").read_bytes()
    receive(raw, source="command")
    assert not Ticket.objects.exists() and not Event.objects.exists()
    from notifications.models import Notification

    assert not Notification.objects.exists() and mailoutbox == []


def test_a_mail_storm_from_one_sender_is_held_back(db, settings):
    settings.INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR = 3
    outcomes = [
        receive(mail(sender="robot@example.com", subject=f"Alert {n}", message_id=f"<s{n}@example.com>"),
                source="command")[0].outcome
        for n in range(5)
    ]
    assert outcomes == [Outcome.OPENED] * 3 + [Outcome.QUARANTINED] * 2
    assert Ticket.objects.count() == 3
    assert "possible mail storm" in InboundMessage.objects.filter(outcome=Outcome.QUARANTINED).first().reason


def test_the_same_message_twice_is_processed_once(db):
    raw = (CORPUS / "01-plain-ascii.eml").read_bytes()
    first, new_first = receive(raw, source="imap", mailbox="a", uidvalidity=1, uid=7)
    again, new_again = receive(raw, source="webhook", mailbox="webhook:Postmark")
    same_uid, new_uid = receive(b"From: x@example.com\r\nSubject: other\r\n\r\nbody", source="imap", mailbox="a",
                                uidvalidity=1, uid=7)
    assert (new_first, new_again, new_uid) == (True, False, False)
    assert first.pk == again.pk == same_uid.pk
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_a_message_without_message_id_is_recognised_by_its_bytes(db):
    raw = (CORPUS / "32-no-message-id.eml").read_bytes()
    record, _ = receive(raw, source="command")
    assert record.key.startswith("sha256:") and len(record.key) == 7 + 64
    assert receive(raw, source="command")[1] is False
    assert Ticket.objects.count() == 1


def test_a_failure_half_way_leaves_no_half_written_ticket(db, monkeypatch):
    """A file that cannot be stored fails after the ticket was written: the ticket goes, the message stays."""
    from tickets import services as ticket_services

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ticket_services, "attachment_add", broken)
    record, _ = receive((CORPUS / "09-pdf-and-png.eml").read_bytes(), source="command")
    assert record.outcome == Outcome.QUARANTINED and record.reason == "OSError: disk full"
    assert not Ticket.objects.exists() and not Event.objects.exists() and not Requester.objects.exists()

    monkeypatch.undo()
    from inbound.services import retry

    record = retry(record)
    assert record.outcome == Outcome.OPENED and record.reason == ""
    assert Attachment.objects.filter(ticket=record.ticket).count() == 2


def test_retry_leaves_messages_that_are_not_quarantined_or_incomplete_alone(db):
    opened, _ = receive((CORPUS / "01-plain-ascii.eml").read_bytes(), source="command")
    headers_only, _ = receive(b"From: a@example.com\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n", source="imap",
                              mailbox="m", uidvalidity=1, uid=1, refuse="too large")
    from inbound.services import retry

    assert retry(opened).outcome == Outcome.OPENED
    assert (headers_only.outcome, headers_only.complete) == (Outcome.QUARANTINED, False)
    assert retry(headers_only).outcome == Outcome.QUARANTINED
    assert Ticket.objects.count() == 1


# --- small rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, confirms", [
    ("Thanks, that fixed it. The printer works again.", True),
    ("No jams since yesterday afternoon. Thanks!", True),
    ("Спасибо, всё заработало.", True),
    ("Yes, solved. You can close the ticket.", True),
    ("Thanks, but it is still jamming.", False),
    ("It does not work.", False),
    ("Спасибо, но не работает.", False),
    ("Here is the log you asked for.", False),
    ("Thanks! " + "x" * 400, False),  # a long reply says more than thanks
    ("", False),
])
def test_confirms_fix(text, confirms):
    assert confirms_fix(text) is confirms


@pytest.mark.parametrize("subject, cleaned", [
    ("Re: [HD-000042] Printer jams", "Printer jams"),
    ("RE: Fwd: AW: Printer", "Printer"),
    ("Ответ: Re[2]: [hd-000007] Не работает VPN", "Не работает VPN"),
    ("Printer: re-install fails", "Printer: re-install fails"),
])
def test_clean_subject(subject, cleaned):
    assert clean_subject(subject) == cleaned
