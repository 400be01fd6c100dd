"""What an inbound e-mail does: open a ticket, add to one, or nothing — exactly once.

`receive` is the one entry point for every way mail arrives (the IMAP poller,
a mail service's webhook, the command line). In one transaction it records
the message and routes it through the ticket services, so a message is either
fully processed or not recorded at all, and a second delivery of the same
message (same Message-ID, or same mailbox UID) does nothing.

Routing:

- mail no person wrote (auto-replies, bounces, lists) and mail from the help
  desk's own addresses is ignored: it never opens a ticket and is never
  answered, so no mail loop can start;
- a reply is matched to its ticket by the ``In-Reply-To``/``References``
  Message-IDs of the mails we sent, then by the ``[HD-…]`` reference in the
  subject; only the ticket's requester may add to it, anything else is
  quarantined;
- a reply becomes a public comment (resuming a waiting ticket); on a resolved
  ticket a short confirmation ("Thanks, works now") closes it and anything
  else reopens it; on a closed ticket it opens a follow-up ticket linked as a
  repeat contact;
- anything else opens a ticket (channel e-mail), with the files that pass the
  upload checks;
- a message that cannot be read, or that a service refuses, is quarantined
  with the reason, its raw bytes kept for the admin to look at and retry.
"""
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.header import decode_header, make_header
from email.utils import parseaddr

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbound.models import REASON_MAX_LENGTH, InboundMessage
from inbound.parsing import Malformed, Parsed, parse
from notifications.messages import mail_domain, one_line
from notifications.models import Notification
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import REFERENCE_PREFIX, Channel, Requester, Ticket, parse_reference
from tickets.policy import Actor
from tickets.workflow import Status

logger = logging.getLogger(__name__)

Outcome = InboundMessage.Outcome
SUBJECT_REFERENCE = re.compile(r"\[\s*(" + re.escape(REFERENCE_PREFIX) + r"\d{1,18})\s*\]", re.IGNORECASE)
# The Message-IDs we send (notifications.messages.message_id and ticket_thread_id).
OUR_MESSAGE_ID = re.compile(r"^<tierdesk\.(?:ticket-(\d{1,18})|event-(\d{1,18})\.(\d{1,18}))@([^<>@\s]+)>$")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|ответ|отв|пересл)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# A short reply that thanks or confirms, without a word of doubt, confirms the fix of a resolved ticket.
CONFIRMS = re.compile(
    r"\b(thanks?|thank you|thx|works?|working|fixed|solved|resolved|all good|great|perfect|close the ticket|"
    r"спасибо|благодарю|работает|заработало|заработал|решено|решена|помогло|отлично)\b",
    re.IGNORECASE,
)
DOUBTS = re.compile(
    r"\b(not|still|doesn'?t|don'?t|isn'?t|didn'?t|won'?t|can'?t|cannot|fail\w*|broken|error\w*|problem\w*|"
    r"не|нет|всё ещё|все еще|до сих пор|опять|снова|ошибк\w*|проблем\w*)\b",
    re.IGNORECASE,
)
CONFIRMATION_MAX_LENGTH = 300


@dataclass
class Result:
    outcome: str
    ticket: Ticket | None = None
    comment: object = None
    notes: list = field(default_factory=list)


def receive(
    raw: bytes,
    *,
    source: str,
    mailbox: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
    refuse: str = "",
) -> tuple[InboundMessage, bool]:
    """Record and route one message unless it was seen before. Returns the record and whether it is new.

    With `refuse` (why), the message is recorded in the quarantine without being routed.
    """
    if uid is not None:
        seen = InboundMessage.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid).first()
        if seen is not None:
            return seen, False
    try:
        parsed, problem = parse(raw), ""
    except Malformed as exc:
        parsed, problem = None, str(exc)
    problem = refuse or problem
    key = message_key(parsed, raw)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    key=key,
                    message_id=(parsed.message_id if parsed else "")[:300],
                    source=source,
                    mailbox=mailbox,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    sender=(parsed.sender_email if parsed else parseaddr(_raw_header(raw, "From"))[1].lower())[:254],
                    subject=(parsed.subject if parsed else _raw_header(raw, "Subject"))[:300],
                    outcome=Outcome.QUARANTINED,
                    reason=problem[:REASON_MAX_LENGTH],
                    raw=raw,
                    size=len(raw),
                    complete=not refuse,
                )
        except IntegrityError:
            # The same message again (another delivery, a poll run twice, a second poller).
            seen = InboundMessage.objects.filter(key=key).first()
            if seen is None and uid is not None:
                seen = InboundMessage.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid).first()
            if seen is None:
                raise
            return seen, False
        if parsed is not None and not refuse:
            _route_into(record, parsed)
    return record, True


def retry(record: InboundMessage) -> InboundMessage:
    """Route a quarantined message again (after the reason was dealt with). Other messages are left as they are."""
    with transaction.atomic():
        record = InboundMessage.objects.select_for_update().get(pk=record.pk)
        if record.outcome != Outcome.QUARANTINED or not record.complete:
            return record
        try:
            parsed = parse(bytes(record.raw))
        except Malformed as exc:
            record.reason = str(exc)[:REASON_MAX_LENGTH]
            record.save(update_fields=["reason"])
            return record
        _route_into(record, parsed)
    return record


def message_key(parsed: Parsed | None, raw: bytes) -> str:
    message_id = parsed.message_id if parsed else ""
    if message_id and len(message_id) <= 300:
        return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _route_into(record: InboundMessage, parsed: Parsed) -> None:
    try:
        with transaction.atomic():
            result = route(parsed)
    except TicketError as exc:
        result = Result(Outcome.QUARANTINED, notes=[str(exc)])
    except Exception as exc:
        logger.exception("Inbound message %s could not be processed", record.key)
        result = Result(Outcome.QUARANTINED, notes=[f"{exc.__class__.__name__}: {exc}"])
    record.outcome = result.outcome
    record.ticket = result.ticket
    record.comment = result.comment
    record.reason = " ".join(result.notes)[:REASON_MAX_LENGTH]
    record.save(update_fields=["outcome", "ticket", "comment", "reason"])


def route(parsed: Parsed) -> Result:
    """Decide what the message does and do it through the ticket services. Raises TicketError on refusal."""
    if parsed.automatic:
        return Result(Outcome.IGNORED, notes=[_("Automatic mail (%(why)s).") % {"why": parsed.automatic}])
    if parsed.sender_email in own_addresses():
        return Result(Outcome.IGNORED, notes=[_("Sent by the help desk itself.")])
    ticket = thread_of(parsed)
    if ticket is not None and parsed.sender_email != ticket.requester.email:
        return Result(Outcome.QUARANTINED, ticket=ticket, notes=[
            _("%(sender)s is not the requester of %(reference)s; only the requester can add to it by e-mail.")
            % {"sender": parsed.sender_email, "reference": ticket.reference}])
    if ticket is not None and ticket.status != Status.CLOSED:
        return _reply(ticket, parsed)
    return _open(parsed, follow_up_of=ticket)


def thread_of(parsed: Parsed) -> Ticket | None:
    """The ticket a reply belongs to: by the Message-IDs it answers (newest first), else by the subject's reference."""
    domain = mail_domain().lower()
    for message_id in [*parsed.in_reply_to, *reversed(parsed.references)]:
        match = OUR_MESSAGE_ID.match(message_id)
        if match is None or match.group(4).lower() != domain:
            continue
        ticket_id, event_id, notification_id = match.group(1), match.group(2), match.group(3)
        if event_id is not None:
            ticket_id = (
                Notification.objects.filter(pk=int(notification_id), event_id=int(event_id))
                .values_list("event__ticket_id", flat=True)
                .first()
            )
        ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first() if ticket_id else None
        if ticket is not None:
            return ticket
    found = SUBJECT_REFERENCE.search(parsed.subject)
    ticket_id = parse_reference(found.group(1)) if found else None
    if ticket_id is not None:
        return Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
    return None


def own_addresses() -> set[str]:
    return {
        parseaddr(address)[1].lower()
        for address in (settings.DEFAULT_FROM_EMAIL, settings.INBOUND_ADDRESS, settings.SERVER_EMAIL)
        if address
    }


def confirms_fix(text: str) -> bool:
    """A short reply that thanks or confirms and does not doubt ("Thanks, works now!" but not "Thanks, but no")."""
    text = text.strip()
    return len(text) <= CONFIRMATION_MAX_LENGTH and bool(CONFIRMS.search(text)) and not DOUBTS.search(text)


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and our reference."""
    subject = SUBJECT_REFERENCE.sub(" ", subject)
    previous = None
    while previous != subject:
        previous = subject
        subject = REPLY_PREFIX.sub("", subject).strip()
    return " ".join(subject.split())


def _reply(ticket: Ticket, parsed: Parsed) -> Result:
    customer = Actor.customer(ticket.requester)
    files, notes = _files(parsed)
    body = _with_refusals(parsed.text or (_("(see the attached files)") if files else ""), notes)
    if not body:
        return Result(Outcome.IGNORED, ticket=ticket, notes=[_("The reply adds nothing (no new text, no files).")])
    comment = services.comment_add(actor=customer, ticket_id=ticket.pk, body=body)
    for upload in files:
        services.attachment_add(actor=customer, ticket_id=ticket.pk, upload=upload)
    ticket.refresh_from_db(fields=["status"])
    if ticket.status == Status.RESOLVED:
        # The customer answers "is it fixed?": a confirmation closes the ticket, anything else reopens it.
        if confirms_fix(parsed.text):
            services.ticket_close(actor=customer, ticket_id=ticket.pk)
            notes.append(_("The customer confirmed the fix."))
        else:
            services.ticket_reopen(actor=customer, ticket_id=ticket.pk, reason=_("Replied by e-mail: %(text)s") % {
                "text": one_line(parsed.text or body)[:200]})
            notes.append(_("The customer says it is not fixed: reopened."))
    return Result(Outcome.REPLIED, ticket=ticket, comment=comment, notes=notes)


def _open(parsed: Parsed, *, follow_up_of: Ticket | None) -> Result:
    since = timezone.now() - timedelta(hours=1)
    opened = InboundMessage.objects.filter(
        sender=parsed.sender_email, outcome=Outcome.OPENED, received_at__gte=since
    ).count()
    if opened >= settings.INBOUND_MAX_NEW_TICKETS_PER_SENDER_HOUR:
        return Result(Outcome.QUARANTINED, notes=[
            _("%(sender)s opened %(count)d tickets by e-mail within an hour; held back as a possible mail storm.")
            % {"sender": parsed.sender_email, "count": opened}])
    files, notes = _files(parsed)
    subject = clean_subject(parsed.subject) or _("(no subject)")
    description = _with_refusals(parsed.text or (_("(see the attached files)") if files else _("(no text)")), notes)
    if len(subject) > services.SUBJECT_MAX:
        # The whole subject opens the description; the ticket's subject is cut at a word.
        description = f"{subject}\n\n{description}"
        subject = subject[: services.SUBJECT_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    requester = Requester.objects.filter(email=parsed.sender_email).first()
    ticket = services.ticket_create(
        subject=subject,
        description=description,
        requester_email=parsed.sender_email,
        requester_name=parsed.sender_name,
        channel=Channel.EMAIL,
        language=_guess_language(parsed) if requester is None else "",
        repeat_of=follow_up_of,
    )
    customer = Actor.customer(ticket.requester)
    for upload in files:
        services.attachment_add(actor=customer, ticket_id=ticket.pk, upload=upload)
    if follow_up_of is not None:
        notes.insert(0, _("Follow-up to closed ticket %(reference)s.") % {"reference": follow_up_of.reference})
    return Result(Outcome.OPENED, ticket=ticket, notes=notes)


def _files(parsed: Parsed) -> tuple[list, list]:
    """The attachments that pass the upload checks, and a note for each one refused."""
    accepted, notes = [], []
    for index, attachment in enumerate(parsed.attachments):
        upload = SimpleUploadedFile(attachment.filename, attachment.content, attachment.content_type)
        if index >= settings.INBOUND_MAX_ATTACHMENTS:
            notes.append(_("“%(name)s” was not attached: at most %(count)d files are taken from one e-mail.") % {
                "name": attachment.filename, "count": settings.INBOUND_MAX_ATTACHMENTS})
            continue
        try:
            upload.name = services.check_upload(upload)
        except TicketError as exc:
            notes.append(_("“%(name)s” was not attached: %(why)s") % {"name": attachment.filename, "why": exc})
            continue
        accepted.append(upload)
    return accepted, notes


def _with_refusals(text: str, notes: list) -> str:
    """The text, with a line for each file that was not attached, so that agent and customer both see it."""
    if not notes:
        return text
    return "\n\n".join([text, *(f"[{note}]" for note in notes)]).strip()


def _guess_language(parsed: Parsed) -> str:
    """Russian for a new requester who writes in Cyrillic; otherwise the site's default."""
    sample = f"{parsed.subject} {parsed.text}"[:2000]
    cyrillic = sum(1 for ch in sample if "\u0400" <= ch <= "\u04ff")
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    return "ru" if cyrillic > latin else ""


def _raw_header(raw: bytes, name: str) -> str:
    """A header of a message that could not be parsed, as far as it can be read (for the admin list)."""
    head = raw[:16384].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
    found = re.search(rf"^{name}:[ \t]*(.*(?:\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
    if not found:
        return ""
    try:
        return " ".join(str(make_header(decode_header(found.group(1)))).split())
    except (LookupError, UnicodeError, ValueError):
        return " ".join(found.group(1).split())
