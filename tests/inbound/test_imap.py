"""Reading the support mailbox over IMAP, against a real Dovecot (see conftest.py).

Mail is delivered with IMAP APPEND, read by `inbound.imap.poll` (in-process,
through the Celery task, or by `manage.py fetch_mail` in a process of its own),
and the tests look at what it left: tickets, comments, records, the mailbox's
high-water mark and the messages' \\Seen flags.
"""
import email
import email.policy
import os
import signal
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import psycopg2
import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import Count

from inbound import imap
from inbound.imap import PollResult
from inbound.models import InboundMessage, MailboxState
from inbound.tasks import LOCK_KEY, fetch_mail
from tests.factories import make_ticket
from tests.inbound.conftest import Mailbox, new_user, use_mailbox
from tickets import services
from tickets.models import Comment, Requester, Ticket
from tickets.workflow import Status
from tiers.roles import Role

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
Outcome = InboundMessage.Outcome


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def mail(sender: str, subject: str, body: str, **headers) -> bytes:
    """A message as a mail client sends it (CRLF line ends)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = "support@localhost"
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def state() -> MailboxState:
    return MailboxState.objects.get(mailbox=imap.mailbox_name())


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "inbound.imap" and r.levelname == "WARNING"]


def tickets_by_subject() -> dict[str, int]:
    return dict(Ticket.objects.values_list("subject").annotate(n=Count("id")).values_list("subject", "n"))


# --- a poll ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_poll_turns_each_message_into_its_ticket_record_or_quarantine_and_marks_it_seen(mailbox):
    """New mail, automatic mail and unreadable mail each get their outcome, field by field; every message
    is recorded under its UID and flagged \\Seen, the mark is the highest UID, and a second poll does nothing."""
    names = ["01-plain-ascii.eml", "09-pdf-and-png.eml", "04-koi8r.eml", "20-out-of-office.eml",
             "41-malformed-no-from.eml"]
    uids = dict(zip(names, mailbox.append(*(corpus(name) for name in names)), strict=True))
    assert mailbox.seen() == set()

    assert imap.poll() == PollResult(fetched=5, processed=5, duplicates=0, too_large=0)

    records = {record.uid: record for record in InboundMessage.objects.select_related("ticket__requester")}
    assert set(records) == set(uids.values())
    uidvalidity = mailbox.uidvalidity()
    for record in records.values():
        assert record.source == InboundMessage.Source.IMAP
        assert record.mailbox == f"{mailbox.user}@127.0.0.1:{mailbox.server.port}/INBOX"
        assert record.uidvalidity == uidvalidity
        assert record.complete is True

    opened = {
        "01-plain-ascii.eml": {
            "subject": 'Printer on 3rd floor shows "Paper jam" but tray is empty',
            "description": 'Hello,\n\nThe HP LaserJet next to room 3.14 shows "Paper jam in tray 2" since this\n'
                           "morning. I opened every door and there is no paper stuck anywhere.\n\n"
                           "Asset tag: PRN-0317\n\nRegards,\nJohn",
            "email": "john.smith@example.com", "name": "Smith, John", "language": "", "files": [],
            "message_id": "<CAF3k9x2Lq8@mail.example.com>",
        },
        "09-pdf-and-png.eml": {
            "subject": "Toner order and screenshot of the error",
            "description": "Hi,\n\nAttached is the toner order form and a screenshot of the driver error.\n\nTom",
            "email": "tom.becker@example.com", "name": "Tom Becker", "language": "",
            "files": [("toner-order-2026-11.pdf", 600), ("driver-error.png", 463)],
            "message_id": "<DB9PR10MB5723A1B2C3D4E5F6@DB9PR10MB5723.eurprd10.prod.outlook.example>",
        },
        "04-koi8r.eml": {
            "subject": "Не работает принтер на 3 этаже",
            "description": "Добрый день!\n\nПринтер HP на третьем этаже печатает пустые листы.\n"
                           "Картридж меняли вчера, не помогло.\n\nСергей Кузнецов\nбухгалтерия, доб. 214",
            "email": "s.kuznetsov@example.ru", "name": "Сергей Кузнецов", "language": "ru", "files": [],
            "message_id": "<1732435512.271828@mail.example.ru>",
        },
    }
    for name, expected in opened.items():
        record = records[uids[name]]
        ticket = record.ticket
        assert (record.outcome, record.reason, record.message_id) == (Outcome.OPENED, "", expected["message_id"])
        assert record.sender == expected["email"]
        assert ticket.subject == expected["subject"]
        assert ticket.description == expected["description"]
        assert ticket.channel == "email"
        assert ticket.status == Status.NEW
        assert (ticket.requester.email, ticket.requester.name) == (expected["email"], expected["name"])
        assert ticket.requester.language == expected["language"]
        assert list(ticket.attachments.order_by("id").values_list("original_name", "size")) == expected["files"]
    assert Ticket.objects.count() == 3

    ignored = records[uids["20-out-of-office.eml"]]
    assert (ignored.outcome, ignored.ticket, ignored.sender) == (Outcome.IGNORED, None, "lena.fischer@example.de")
    assert ignored.reason == "Automatic mail (Auto-Submitted: auto-replied)."
    malformed = records[uids["41-malformed-no-from.eml"]]
    assert (malformed.outcome, malformed.ticket, malformed.sender) == (Outcome.QUARANTINED, None, "")
    assert malformed.reason == "no From header"
    assert bytes(malformed.raw).replace(b"\r\n", b"\n") == corpus("41-malformed-no-from.eml")

    assert mailbox.seen() == set(uids.values())
    assert state().last_uid == max(uids.values())
    assert state().uidvalidity == uidvalidity

    assert imap.poll() == PollResult()
    assert InboundMessage.objects.count() == 5
    assert Ticket.objects.count() == 3
    assert state().last_uid == max(uids.values())


@pytest.mark.django_db
def test_a_later_poll_reads_only_what_arrived_since(mailbox, caplog):
    """Mail delivered after a poll is read by the next one, and the earlier mail is not read again. The
    first poll of a folder is no UIDVALIDITY change and warns of nothing."""
    first = mailbox.append(mail("Ann <ann@example.com>", "Monitor flickers", "The left monitor flickers."))
    with caplog.at_level("WARNING", logger="inbound.imap"):
        assert imap.poll() == PollResult(fetched=1, processed=1)
    assert warnings(caplog) == []
    later = mailbox.append(mail("Ben <ben@example.com>", "Mouse broken", "The wheel does not scroll."),
                           mail("Cid <cid@example.com>", "Badge lost", "I lost my badge."))

    assert imap.poll() == PollResult(fetched=2, processed=2)

    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Badge lost", "Monitor flickers",
                                                                       "Mouse broken"]
    assert sorted(InboundMessage.objects.values_list("uid", flat=True)) == first + later
    assert mailbox.seen() == set(first + later)
    assert state().last_uid == later[-1]


@pytest.mark.django_db
def test_a_lost_mark_reads_the_mailbox_again_without_duplicates(mailbox):
    """With the high-water mark lost (last UID 0), every message is fetched again and recognised as
    already processed: no second ticket, no second record, and the mark comes back."""
    uids = mailbox.append(*(mail(f"User {n} <user{n}@example.com>", f"Lost mark {n}", f"Problem {n}.")
                            for n in range(3)))
    assert imap.poll() == PollResult(fetched=3, processed=3)
    MailboxState.objects.update(last_uid=0)

    assert imap.poll() == PollResult(fetched=3, processed=0, duplicates=3)

    assert tickets_by_subject() == {"Lost mark 0": 1, "Lost mark 1": 1, "Lost mark 2": 1}
    assert sorted(InboundMessage.objects.values_list("uid", flat=True)) == uids
    assert state().last_uid == uids[-1]
    assert mailbox.seen() == set(uids)


@pytest.mark.django_db
def test_a_rebuilt_folder_is_read_again_and_its_old_mail_recognised_by_message_id(mailbox, caplog):
    """When the folder's UIDVALIDITY is not the one the mail was recorded under (the mailbox was rebuilt),
    the poll warns, reads the folder from the start and recognises every message by its Message-ID."""
    uids = mailbox.append(*(mail(f"User {n} <user{n}@example.com>", f"Rebuilt {n}", f"Problem {n}.")
                            for n in range(2)))
    assert imap.poll() == PollResult(fetched=2, processed=2)
    InboundMessage.objects.update(uidvalidity=1)
    MailboxState.objects.update(uidvalidity=1)

    with caplog.at_level("WARNING", logger="inbound.imap"):
        assert imap.poll() == PollResult(fetched=2, processed=0, duplicates=2)

    uidvalidity = mailbox.uidvalidity()
    assert warnings(caplog) == [
        f"IMAP folder {imap.mailbox_name()} has a new UIDVALIDITY ({uidvalidity}, was 1): reading it from the start"]
    assert tickets_by_subject() == {"Rebuilt 0": 1, "Rebuilt 1": 1}
    assert InboundMessage.objects.count() == 2
    assert (state().uidvalidity, state().last_uid) == (uidvalidity, uids[-1])


@pytest.mark.django_db
def test_a_message_over_the_size_limit_keeps_only_its_headers_in_the_quarantine(mailbox, settings):
    """A message larger than INBOUND_MAX_MESSAGE_BYTES is never downloaded whole: its headers are kept,
    incomplete, in the quarantine, and it opens no ticket; a small message next to it still does."""
    settings.INBOUND_MAX_MESSAGE_BYTES = 4096
    large = mail("Huge <huge@example.com>", "Full disk image", "BODY-LINE " * 2000)
    small = mail("Small <small@example.com>", "Keyboard sticks", "The space bar sticks.")
    assert len(large) > 4096 > len(small)
    large_uid, small_uid = mailbox.append(large, small)

    assert imap.poll() == PollResult(fetched=2, processed=2, too_large=1)

    record = InboundMessage.objects.get(uid=large_uid)
    headers = large.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert bytes(record.raw) == headers
    assert b"BODY-LINE" not in bytes(record.raw)
    assert (record.outcome, record.complete, record.ticket) == (Outcome.QUARANTINED, False, None)
    assert (record.sender, record.subject, record.size) == ("huge@example.com", "Full disk image", len(headers))
    assert record.reason == (f"The message is {len(large)} bytes, over INBOUND_MAX_MESSAGE_BYTES (4096); "
                             "only its headers were kept.")
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Keyboard sticks"]
    assert InboundMessage.objects.get(uid=small_uid).outcome == Outcome.OPENED
    assert mailbox.seen() == {large_uid, small_uid}
    assert state().last_uid == small_uid


# --- killed half-way --------------------------------------------------------------------------------

KILL_MESSAGES = 60
BLOCKED_AT = 30  # the 31st message waits on a row lock the test holds


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def fetch_mail_command(box: Mailbox, var_dir: Path) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        **box.environ(),
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DEBUG": "0",
        "SECRET_KEY": "fetch-mail-test-secret-key-" + "x" * 40,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "TIERDESK_VAR_DIR": str(var_dir),
        "INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR": "1000",
    }
    return [sys.executable, "manage.py", "fetch_mail"], env


def lock_waiters() -> list[int]:
    """Backends of the test database waiting for a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return [pid for (pid,) in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def wait_for(predicate, what: str, timeout: float = 30, proc=None, output: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.02)
    logs = output.read_text(errors="replace")[-3000:] if output and output.exists() else ""
    pytest.fail(f"never saw: {what}\n{logs}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fetch_mail_killed_half_way_resumes_and_makes_each_ticket_once(mailbox, tmp_path):
    """`manage.py fetch_mail` killed with SIGKILL in the middle of a message leaves exactly the messages it
    finished (their records, tickets, mark and \\Seen), nothing of the one it was in; run again, it finishes
    the rest: one ticket per message, one record per UID, the mark at the highest UID."""
    senders = [f"user{n:02d}@example.com" for n in range(KILL_MESSAGES)]
    uids = mailbox.append(*(mail(f"User {n:02d} <{sender}>", f"Kill test {n:02d}", f"Message number {n:02d}.")
                            for n, sender in enumerate(senders)))
    # A requester without a name: opening their ticket writes the name, which waits for the lock below.
    blocked = Requester.objects.create(email=senders[BLOCKED_AT], name="")
    command, env = fetch_mail_command(mailbox, tmp_path)
    output = tmp_path / "fetch_mail.log"

    s = connection.settings_dict
    locker = psycopg2.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None,
                              host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432)
    try:
        with locker.cursor() as cursor:
            table = Requester._meta.db_table
            cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [blocked.pk])  # noqa: S608 - our table
        with open(output, "wb") as log:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            (waiter,) = wait_for(lock_waiters, "fetch_mail waiting for the requester's row", proc=proc, output=output)
            assert proc.poll() is None
            assert InboundMessage.objects.count() == BLOCKED_AT
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        locker.rollback()
        locker.close()
    wait_for(lambda: not backend_alive(waiter), "the killed command's database session ending")

    assert InboundMessage.objects.count() == BLOCKED_AT
    assert sorted(InboundMessage.objects.values_list("uid", flat=True)) == uids[:BLOCKED_AT]
    assert tickets_by_subject() == {f"Kill test {n:02d}": 1 for n in range(BLOCKED_AT)}
    assert Requester.objects.get(pk=blocked.pk).name == ""
    assert state().last_uid == uids[BLOCKED_AT - 1]
    assert mailbox.seen() == set(uids[:BLOCKED_AT])

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stdout.strip() == f"fetched {KILL_MESSAGES - BLOCKED_AT}, processed {KILL_MESSAGES - BLOCKED_AT}, " \
                                   "already seen 0, too large 0"

    assert tickets_by_subject() == {f"Kill test {n:02d}": 1 for n in range(KILL_MESSAGES)}
    assert InboundMessage.objects.count() == KILL_MESSAGES
    assert sorted(InboundMessage.objects.values_list("uid", flat=True)) == uids
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {Outcome.OPENED}
    assert Requester.objects.get(pk=blocked.pk).name == f"User {BLOCKED_AT:02d}"
    assert state().last_uid == uids[-1]
    assert mailbox.seen() == set(uids)


# --- replies to the mail we sent ---------------------------------------------------------------------


def reply_to(received, sender: str, text: str) -> bytes:
    """The customer's answer to a mail they got, as a mail client writes it: threading headers, the
    subject with "Re:", the new text on top and the original quoted below an attribution line."""
    original = received.message
    quoted = "\n".join(f"> {line}" if line else ">" for line in received.text.splitlines())
    return mail(
        sender,
        f"Re: {received.subject}",
        f"{text}\n\nOn {original['Date']}, {original['From']} wrote:\n{quoted}\n",
        To=str(original["Reply-To"]),
        In_Reply_To=original["Message-ID"],
        References=f"{original['References']} {original['Message-ID']}",
    )


def last_mail_to(smtp, address: str, subject_start: str):
    received = smtp.to(address)[-1]
    assert received.subject.startswith(subject_start), received.subject
    return received


def answer_by_mail(mailbox, smtp, ticket: Ticket, subject: str, text: str) -> Comment:
    """Dana answers the last mail she got about `ticket` (its subject after the reference starts with
    `subject`); the poller reads the answer, which must become one public comment holding `text`."""
    received = last_mail_to(smtp, "dana@example.com", f"[{ticket.reference}] {subject}")
    (uid,) = mailbox.append(reply_to(received, "Dana <dana@example.com>", text))
    assert imap.poll() == PollResult(fetched=1, processed=1)
    comment = check_reply_comment(ticket, uid, text)
    ticket.refresh_from_db()
    return comment


def check_reply_comment(ticket: Ticket, uid: int, text: str) -> Comment:
    record = InboundMessage.objects.get(uid=uid)
    comment = Comment.objects.get(ticket=ticket, author_role=Role.CUSTOMER)
    assert (record.outcome, record.ticket, record.comment) == (Outcome.REPLIED, ticket, comment)
    assert comment.body == text
    assert comment.internal is False
    assert comment.author_requester == ticket.requester
    assert Ticket.objects.count() == 1
    return comment


@pytest.mark.django_db
def test_a_reply_to_the_new_ticket_mail_becomes_one_public_comment_without_the_quote(mailbox, smtp, outbox_runs,
                                                                                     settings):
    """The customer answers the "we received your ticket" mail that reached them over SMTP; polled from
    the mailbox, the answer is one public customer comment on that ticket holding only the new text."""
    settings.INBOUND_ADDRESS = "support@localhost"
    with outbox_runs():
        ticket = make_ticket(subject="Printer jams on every page")
    answer_by_mail(mailbox, smtp, ticket, "We received your ticket",
                   "It is the printer in room 3.14.\nThe error code is E-204.")
    assert ticket.status == Status.NEW


@pytest.mark.django_db
def test_a_reply_to_the_question_resumes_the_waiting_ticket(mailbox, smtp, outbox_runs, as_alice):
    """The answer to the agent's question (the "we need your answer" mail) is added to the ticket and
    takes it out of waiting, back to where it was."""
    ticket = make_ticket(subject="VPN drops")
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    with outbox_runs():
        services.ticket_wait(actor=as_alice, ticket_id=ticket.pk, reason="Which VPN client version do you use?")
    assert "Which VPN client version do you use?" in smtp.to("dana@example.com")[-1].text
    answer_by_mail(mailbox, smtp, ticket, "We need your answer", "Version 5.2.1, on Windows 11.")
    assert (ticket.status, ticket.waiting_from) == (Status.DIAGNOSING, "")


@pytest.mark.django_db
def test_a_reply_saying_it_still_fails_reopens_the_resolved_ticket(mailbox, smtp, outbox_runs, diagnosed,
                                                                   as_alice):
    """"Still fails" in answer to the "resolved — please confirm" mail reopens the ticket (diagnosing,
    reopened once) and keeps the answer as a public comment."""
    with outbox_runs():
        services.ticket_resolve(actor=as_alice, ticket_id=diagnosed.pk, summary="Rolled back the dock driver.")
    answer_by_mail(mailbox, smtp, diagnosed, "Resolved",
                   "Sorry, it still fails: the dock disconnects again after a restart.")
    assert (diagnosed.status, diagnosed.reopen_count) == (Status.DIAGNOSING, 1)


# --- the Celery task ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_polls_the_mailbox_and_does_nothing_while_another_poll_holds_the_lock(mailbox):
    """`inbound.tasks.fetch_mail` skips its run while the lock is taken (no message read, the other
    poll's lock untouched), and once it is free reads the mailbox and frees the lock."""
    uids = mailbox.append(mail("Ann <ann@example.com>", "Scanner offline", "The scanner is offline."),
                          mail("Ben <ben@example.com>", "Phone dead", "My desk phone shows nothing."))
    assert cache.add(LOCK_KEY, "another-poll", timeout=60)

    assert fetch_mail.apply().get() is None

    assert InboundMessage.objects.count() == 0
    assert mailbox.seen() == set()
    assert cache.get(LOCK_KEY) == "another-poll"

    cache.delete(LOCK_KEY)
    assert fetch_mail.apply().get() == "fetched 2, processed 2, already seen 0, too large 0"

    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Phone dead", "Scanner offline"]
    assert mailbox.seen() == set(uids)
    assert cache.get(LOCK_KEY) is None


# --- TLS ----------------------------------------------------------------------------------------------


@pytest.fixture
def tls_mailbox(imap_tls_server):
    return Mailbox(imap_tls_server, new_user())


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_tls_with_the_servers_certificate_as_ca_file_reads_the_mailbox(tls_mailbox, settings, mode):
    """Implicit TLS (IMAPS) and STARTTLS both verify a private server certificate against
    INBOUND_IMAP_CA_FILE and read the mailbox."""
    server = tls_mailbox.server
    port = server.tls_port if mode == "ssl" else server.port
    use_mailbox(settings, tls_mailbox, tls=mode, port=port, ca_file=str(server.cert))
    (uid,) = tls_mailbox.append(mail("Ann <ann@example.com>", f"Over {mode}", "Sent over TLS."))

    assert imap.poll() == PollResult(fetched=1, processed=1)

    assert InboundMessage.objects.get(uid=uid).ticket.subject == f"Over {mode}"
    assert tls_mailbox.seen() == {uid}


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_tls_without_the_ca_file_refuses_the_unknown_certificate(tls_mailbox, settings, mode):
    """Without INBOUND_IMAP_CA_FILE the self-signed certificate is not trusted: the connection fails
    before logging in and nothing is read."""
    server = tls_mailbox.server
    port = server.tls_port if mode == "ssl" else server.port
    use_mailbox(settings, tls_mailbox, tls=mode, port=port)
    tls_mailbox.append(mail("Ann <ann@example.com>", "Not read", "Nobody may read this."))

    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        imap.poll()

    assert InboundMessage.objects.count() == 0
    assert tls_mailbox.seen() == set()
