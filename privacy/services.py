"""Everything Tierdesk holds about one requester: exported for them, or anonymised (the right to be forgotten).

`requester_export` gathers the requester's data into one JSON document (`requester_export_zip` adds the files
they sent or received); `requester_anonymise` replaces, in one transaction, every piece of text that came from
or names the person with a fixed marker, and keeps what the metrics are made of. Both are for managers only and
leave an `AccessRecord`.

What anonymisation keeps: every id, timestamp, status, tier, category, priority, channel, assignee, rating and
event (kind, moment, actor, statuses, tiers, the data the metrics read), so the metrics and their daily rollups
read exactly what they read before. What it replaces or removes:

- the requester's name and e-mail (an address that cannot be delivered, ``anonymised-<id>@anonymised.invalid``)
  and language;
- on each of their tickets, every free text: subject, description, the diagnosis and resolution fields, the
  satisfaction comment, and every comment — agents' public replies and internal notes included, since they
  address and quote the customer and cannot be told apart from a quote (empty fields stay empty, so the
  workflow's required fields behave as before); the search text; the tracking link (it no longer opens);
- the events' free text on those tickets. The event log is append-only, but a reason (a reopen reason, the
  satisfaction comment, a mail's first lines, an agent's escalation reason) or a text value in the data (a
  subject before and after an edit, an attachment's file name) may hold the customer's words. Those are
  replaced; nothing else of an event changes. On PostgreSQL the log's trigger lets a reason or data change only
  while this transaction has said so (migration privacy.0002); every other column stays refused;
- attachments of those tickets: the rows are deleted and the files removed from storage after the commit;
- inbound e-mails from their address or about their tickets: subject, raw message, notes, Message-ID, and the
  sender address where it was theirs;
- e-mail notifications to them: the recipient (a pending one is not sent any more) and the error text;
- sign-in links to their portal page (deleted);
- the admin's history entries naming the requester or their inbound e-mails;
- knowledge articles published from their tickets keep their knowledge, but the customer's words copied into
  them (subject, description, diagnosis) and the person's name and address are replaced where they appear
  verbatim, in the article, its revisions and the timeline entries that name the article.

Out of its reach: agents' replies on *other* customers' tickets that quote this customer, and copies outside
the database (mail already sent, webhook deliveries other systems received, backups).

The export leaves out what is the help desk's own rather than the customer's: agents' internal notes and the
titles of internal articles used on their tickets.

A second anonymisation of the same requester changes nothing (and records nothing).
"""
import json
import logging
import re
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from functools import partial

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from inbound.models import InboundMessage
from knowledge.models import Article, Revision
from notifications.models import Notification
from privacy import audit
from privacy.audit import Origin
from privacy.models import Action
from tickets.exceptions import TicketError
from tickets.models import Attachment, Comment, Event, PortalLink, Requester, Ticket
from tickets.policy import Actor
from tickets.services import SLA_TIMER_REASON
from tickets.workflow import EventKind
from tiers.roles import Role

logger = logging.getLogger(__name__)

FORMAT = "tierdesk.requester-export/1"
# What every removed text becomes. A marker in the data, not a sentence: it reads the same in every language.
ANONYMISED_TEXT = "[anonymised]"
ANONYMISED_BYTES = ANONYMISED_TEXT.encode()
PLACEHOLDER_DOMAIN = "anonymised.invalid"  # .invalid never resolves (RFC 2606): nothing can be delivered there
REASON_MAX = 1000
TITLE_MAX = 200  # an article's (and a revision's) title column
DIAGNOSIS_AND_RESOLUTION = ("affected_item", "steps_before", "findings", "resolution_summary")


def placeholder_email(requester_id: int) -> str:
    """The unique address an anonymised requester keeps (the e-mail column is unique)."""
    return f"anonymised-{requester_id}@{PLACEHOLDER_DOMAIN}"


def is_anonymised(requester: Requester) -> bool:
    return requester.email == placeholder_email(requester.pk)


def _require_manager(actor: Actor) -> None:
    if actor.acting_role != Role.MANAGER:
        raise TicketError(TicketError.FORBIDDEN, _("Only managers can export or anonymise a requester's data."))


# --- export ---------------------------------------------------------------------------------------------


def requester_export(*, requester: Requester, actor: Actor, origin: Origin | None = None) -> dict:
    """Everything held about the requester, as one JSON-ready document; the export is recorded."""
    _require_manager(actor)
    document, _files = _gather(requester)
    audit.write(user=actor.user, action=Action.EXPORTED, origin=origin or Origin.command(), requester=requester)
    return document


def requester_export_zip(*, requester: Requester, actor: Actor, origin: Origin | None = None):
    """The export as a ZIP: ``requester.json`` and the attachments' files under the paths the document names.

    Returns an open temporary file at its start (large exports stay on disk, not in memory).
    """
    _require_manager(actor)
    document, files = _gather(requester)
    archive = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (the caller closes it)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for attachment, entry in files:
            try:
                with attachment.file.open("rb") as source, zipped.open(entry["file"], "w") as target:
                    for chunk in iter(partial(source.read, 1024 * 1024), b""):
                        target.write(chunk)
            except OSError:  # the file is gone from storage: the document says so
                entry["file"] = None
        zipped.writestr("requester.json", json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
    audit.write(user=actor.user, action=Action.EXPORTED, origin=origin or Origin.command(), requester=requester)
    archive.seek(0)
    return archive


def _iso(moment):
    return moment.isoformat() if moment is not None else None


def _zip_name(attachment: Attachment) -> str:
    name = (attachment.original_name or "").replace("/", "_").replace("\\", "_").strip()
    if name in ("", ".", ".."):
        name = "file"
    return f"attachments/{attachment.pk}/{name}"


def _gather(requester: Requester) -> tuple[dict, list]:
    """The export document, and the attachments with their document entries (for the ZIP). Eight queries."""
    tickets = list(
        Ticket.objects.filter(requester=requester).select_related("tier", "category").order_by("created_at", "id")
    )
    ids = [ticket.pk for ticket in tickets]
    comments, events, attachments = {}, {}, {}
    # What the customer wrote and what they were told; agents' internal notes are not the customer's data.
    for comment in Comment.objects.filter(ticket_id__in=ids, internal=False).order_by("created_at", "id"):
        comments.setdefault(comment.ticket_id, []).append({
            "id": comment.pk,
            "at": _iso(comment.created_at),
            "author_role": comment.author_role,
            "by_requester": comment.author_requester_id == requester.pk,
            "body": comment.body,
        })
    for event in Event.objects.filter(ticket_id__in=ids).select_related("from_tier", "to_tier").order_by("at", "id"):
        events.setdefault(event.ticket_id, []).append({
            "id": event.pk,
            "kind": event.kind,
            "at": _iso(event.at),
            "actor_role": event.actor_role,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "from_tier": event.from_tier.code if event.from_tier_id else None,
            "to_tier": event.to_tier.code if event.to_tier_id else None,
            "reason": event.reason,
            "data": _exported_data(event),
        })
    files = []
    for attachment in Attachment.objects.filter(ticket_id__in=ids).order_by("created_at", "id"):
        entry = {
            "id": attachment.pk,
            "name": attachment.original_name,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "at": _iso(attachment.created_at),
            "by_requester": attachment.uploaded_by_requester_id == requester.pk,
            "file": _zip_name(attachment),
        }
        attachments.setdefault(attachment.ticket_id, []).append(entry)
        files.append((attachment, entry))
    document = {
        "format": FORMAT,
        "exported_at": _iso(timezone.now()),
        "requester": {
            "id": requester.pk,
            "email": requester.email,
            "name": requester.name,
            "language": requester.language,
            "created_at": _iso(requester.created_at),
            "anonymised": is_anonymised(requester),
        },
        "tickets": [
            {
                "id": ticket.pk,
                "reference": ticket.reference,
                "subject": ticket.subject,
                "description": ticket.description,
                "status": ticket.status,
                "tier": ticket.tier.code,
                "priority": ticket.priority,
                "category": ticket.category.slug if ticket.category_id else None,
                "channel": ticket.channel,
                "created_at": _iso(ticket.created_at),
                "updated_at": _iso(ticket.updated_at),
                "first_response_at": _iso(ticket.first_response_at),
                "resolved_at": _iso(ticket.resolved_at),
                "closed_at": _iso(ticket.closed_at),
                "diagnosis": {"affected_item": ticket.affected_item, "steps_before": ticket.steps_before,
                              "findings": ticket.findings},
                "resolution": {"summary": ticket.resolution_summary},
                "reopen_count": ticket.reopen_count,
                "repeat_of": ticket.repeat_of_id,
                "csat": _csat(ticket),
                "comments": comments.get(ticket.pk, []),
                "events": events.get(ticket.pk, []),
                "attachments": attachments.get(ticket.pk, []),
            }
            for ticket in tickets
        ],
        "inbound_messages": [
            {
                "id": message.pk,
                "received_at": _iso(message.received_at),
                "message_id": message.message_id,
                "subject": message.subject,
                "outcome": message.outcome,
                "reason": message.reason,
                "ticket": message.ticket_id,
                "size": message.size,
                "complete": message.complete,
                "raw": bytes(message.raw).decode("utf-8", errors="replace"),
            }
            # Index inbound_sender; addresses are stored in lower case, like the requester's.
            for message in InboundMessage.objects.filter(sender=requester.email).order_by("received_at", "id")
        ],
        "notifications": [
            {
                "id": row["pk"],
                "ticket": row["event__ticket_id"],
                "template": row["template"],
                "language": row["language"],
                "status": row["status"],
                "created_at": _iso(row["created_at"]),
                "sent_at": _iso(row["sent_at"]),
            }
            for row in Notification.objects.filter(event__ticket_id__in=ids, recipient=requester.email)
            .order_by("created_at", "id")
            .values("pk", "event__ticket_id", "template", "language", "status", "created_at", "sent_at")
        ],
        "portal_links": [
            {"created_at": _iso(link.created_at), "expires_at": _iso(link.expires_at), "used_at": _iso(link.used_at)}
            for link in PortalLink.objects.filter(requester=requester).order_by("created_at", "id")
        ],
        "csat": [
            {"ticket": ticket.pk, "closed_at": _iso(ticket.closed_at), **_csat(ticket)}
            for ticket in tickets
            if _csat(ticket) is not None
        ],
    }
    return document, files


def _exported_data(event: Event) -> dict:
    """An event's data as the export shows it: without the title of an internal article an agent used (it is
    the help desk's knowledge, and may be another customer's subject)."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == EventKind.SUGGESTION_USED:
        data = {key: value for key, value in data.items() if key != "title"}
    return data


def _csat(ticket: Ticket) -> dict | None:
    if ticket.csat_rating is None and not ticket.csat_comment:
        return None
    return {"rating": ticket.csat_rating, "comment": ticket.csat_comment}


# --- anonymisation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anonymised:
    """What an anonymisation changed (all zero, with `already` true, when it had been done before)."""

    requester: int
    already: bool
    tickets: int = 0
    comments: int = 0
    events: int = 0
    attachments: int = 0
    inbound_messages: int = 0
    notifications: int = 0
    articles: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def requester_anonymise(*, requester: Requester, actor: Actor, reason: str,
                        origin: Origin | None = None) -> Anonymised:
    """Replace everything that came from or names the requester, in one transaction (see the module's notes).

    The metrics do not change: nothing they read is touched. `reason` (required) is kept in the access record,
    with the person's name and address taken out of it.
    """
    _require_manager(actor)
    reason = (reason or "").strip()
    if not reason:
        raise TicketError(TicketError.INVALID, _("Give a reason for the anonymisation."), fields=["reason"])
    if len(reason) > REASON_MAX:
        raise TicketError(TicketError.INVALID, _("The reason is longer than %(max)d characters.") % {
            "max": REASON_MAX}, fields=["reason"])
    removed_files = []
    with transaction.atomic():
        # Locks in the services' order: the tickets first (a service locks its ticket, then its inserts take a
        # key-share lock on the requester row), then the requester. The other way round, a customer's reply
        # holding its ticket and waiting for the requester row would deadlock with this.
        _lock_tickets_of(requester.pk)
        # Two managers at once: the second waits above, then finds the work done here.
        locked = Requester.objects.select_for_update().filter(pk=requester.pk).first()
        if locked is None:
            raise TicketError(TicketError.NOT_FOUND, _("No such requester."))
        if is_anonymised(locked):
            return Anonymised(requester=locked.pk, already=True)
        # Again: a ticket opened for them before the requester row was locked (none can be opened now).
        ids = _lock_tickets_of(locked.pk)
        email, name = locked.email, locked.name
        words = _identifying_words(email, name)
        articles = _articles_scrubbed(ids, words)

        tickets = Ticket.objects.filter(pk__in=ids).update(
            subject=ANONYMISED_TEXT,
            description=ANONYMISED_TEXT,
            csat_comment=_unless_empty("csat_comment"),
            search_text=ANONYMISED_TEXT,
            tracking_token_hash="",  # clears the hash (the old link stops working)  # nosec B106
            # An agent's form opened before is refused as stale rather than writing the old text back.
            version=F("version") + 1,
            **{field: _unless_empty(field) for field in DIAGNOSIS_AND_RESOLUTION},
        )
        comments = Comment.objects.filter(Q(ticket_id__in=ids) | Q(author_requester=locked)).update(
            body=ANONYMISED_TEXT)
        events = _redact_events(ids, articles)
        attachments = Attachment.objects.filter(ticket_id__in=ids)
        removed_files = [path for path in attachments.values_list("file", flat=True) if path]
        attachment_count, _deleted = attachments.delete()
        placeholder = placeholder_email(locked.pk)
        messages = InboundMessage.objects.filter(Q(sender=email) | Q(ticket_id__in=ids))
        message_ids = list(messages.values_list("pk", flat=True))
        inbound = messages.update(
            sender=Case(When(sender=email, then=Value(placeholder)), default=F("sender")),
            subject=ANONYMISED_TEXT,
            raw=ANONYMISED_BYTES,
            reason=_unless_empty("reason"),
            message_id="",
            # The key is unique; the Message-ID it held could name the sender.
            key=Concat(Value("anonymised:"), Cast("pk", CharField())),
        )
        notifications = Notification.objects.filter(event__ticket_id__in=ids, recipient=email).update(
            recipient=placeholder,
            status=Case(When(status=Notification.Status.PENDING, then=Value(Notification.Status.FAILED)),
                        default=F("status")),
            last_error=Case(When(status=Notification.Status.PENDING, then=Value(ANONYMISED_TEXT)),
                            default=_unless_empty("last_error")),
        )
        PortalLink.objects.filter(requester=locked).delete()
        locked.email, locked.name, locked.language = placeholder, ANONYMISED_TEXT, ""
        locked.save(update_fields=["email", "name", "language"])
        _admin_history(Requester, [locked.pk], str(locked))
        _admin_history(Ticket, ids, ANONYMISED_TEXT)
        _admin_history(InboundMessage, message_ids, ANONYMISED_TEXT)
        audit.write(user=actor.user, action=Action.ANONYMISED, origin=origin or Origin.command(), requester=locked,
                    reason=_scrub(reason, [], words))
        storage = Attachment._meta.get_field("file").storage
        # Files go only once the database forgot them: a rollback keeps both.
        transaction.on_commit(partial(_remove_files, storage, removed_files))
    for field in ("email", "name", "language"):
        setattr(requester, field, getattr(locked, field))
    return Anonymised(requester=locked.pk, already=False, tickets=tickets, comments=comments, events=events,
                      attachments=attachment_count, inbound_messages=inbound, notifications=notifications,
                      articles=len(articles))


def _lock_tickets_of(requester_id: int) -> list[int]:
    """Lock the requester's tickets (in id order) against the services' writes until the transaction ends.

    FOR NO KEY UPDATE: it waits for, and holds off, every service (they lock a ticket FOR UPDATE), but not an
    insert that only refers to a ticket (a new ticket linked to one as a repeat contact).
    """
    return list(Ticket.objects.select_for_update(no_key=True).filter(requester_id=requester_id).order_by("pk")
                .values_list("pk", flat=True))


def _identifying_words(email: str, name: str) -> list[str]:
    """What names the person in text written about them: the address, its local part, the name and its parts
    (parts shorter than three letters would take too much else with them)."""
    local = email.partition("@")[0]
    parts = [part for part in re.split(r"[\s,]+", name) if len(part) >= 3]
    return [word for word in (email, local, name, *parts) if len(word.strip()) >= 3]


def _unless_empty(field: str):
    """The marker where `field` holds text; empty stays empty (an empty diagnosis must stay missing)."""
    return Case(When(**{field: ""}, then=Value("")), default=Value(ANONYMISED_TEXT))


def _scrub(text: str, verbatim: list[str], words: list[str]) -> str:
    """`text` with each of `verbatim` (exactly) and each of `words` (as whole words, any case) replaced."""
    for piece in sorted({p for p in verbatim if p and p.strip()}, key=len, reverse=True):
        text = text.replace(piece, ANONYMISED_TEXT)
    for word in sorted(set(words), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", ANONYMISED_TEXT, text, flags=re.IGNORECASE)
    return text


def _scrubbed_fields(row, verbatim: list[str], words: list[str]) -> dict:
    """Title, problem and solution of an article or revision with the customer's words taken out."""
    values = {field: _scrub(getattr(row, field), verbatim, words) for field in ("title", "problem", "solution")}
    values["title"] = values["title"][:TITLE_MAX]
    return {field: value for field, value in values.items() if value != getattr(row, field)}


def _articles_scrubbed(ticket_ids: list[int], words: list[str]) -> dict[int, str]:
    """Take the customer's words out of the articles published from these tickets (before the tickets change).

    Returns {article id: its title now} for the articles that changed.
    """
    articles = list(Article.objects.filter(source_ticket_id__in=ticket_ids))
    if not articles:
        return {}
    copied = {
        row["pk"]: [row["subject"], row["description"], *(row[f] for f in DIAGNOSIS_AND_RESOLUTION[:3])]
        for row in Ticket.objects.filter(pk__in={a.source_ticket_id for a in articles}).values(
            "pk", "subject", "description", *DIAGNOSIS_AND_RESOLUTION[:3])
    }
    changed = {}
    # Articles are written by knowledge.services only; this is the one other writer, and it changes nothing
    # but the words that are not the help desk's to keep (no new version: the knowledge did not change).
    for article in articles:
        verbatim = copied.get(article.source_ticket_id, [])
        scrubbed = _scrubbed_fields(article, verbatim, words)
        if scrubbed:
            Article.objects.filter(pk=article.pk).update(**scrubbed)
            changed[article.pk] = scrubbed.get("title", article.title)
        for revision in Revision.objects.filter(article=article):
            again = _scrubbed_fields(revision, verbatim, words)
            if again:
                Revision.objects.filter(pk=revision.pk).update(**again)
                changed.setdefault(article.pk, scrubbed.get("title", article.title))
    return changed


def _redacted(event: Event) -> tuple[str, dict]:
    """The event's reason and data without free text (the metrics' keys stay as they are)."""
    reason = event.reason if event.reason in ("", SLA_TIMER_REASON) else ANONYMISED_TEXT
    data = dict(event.data) if isinstance(event.data, dict) else event.data
    if isinstance(data, dict):
        for name in ("subject", "search_text"):  # an edit's record (older ones hold the search text too)
            if event.kind == EventKind.UPDATED and isinstance(data.get(name), dict):
                data[name] = dict.fromkeys(data[name], ANONYMISED_TEXT)
        if event.kind == EventKind.ATTACHED and data.get("name"):
            data["name"] = ANONYMISED_TEXT
    return reason, data


def _redact_events(ticket_ids: list[int], article_titles: dict[int, str]) -> int:
    """Replace the free text of the events of these tickets, and article titles named in timelines."""
    changes = {}
    for event in Event.objects.filter(ticket_id__in=ticket_ids).only("pk", "kind", "reason", "data"):
        reason, data = _redacted(event)
        if (reason, data) != (event.reason, event.data):
            changes[event.pk] = {"reason": reason, "data": data}
    if article_titles:
        for event in Event.objects.filter(kind=EventKind.SUGGESTION_USED,
                                          data__article_id__in=list(article_titles)).only("pk", "data"):
            title = article_titles.get(event.data.get("article_id"))
            if event.data.get("title") != title:
                changes.setdefault(event.pk, {})["data"] = {**event.data, "title": title}
    if not changes:
        return 0
    _allow_event_redaction(True)
    reasons_only = [pk for pk, values in changes.items() if set(values) == {"reason"}]
    for pk, values in changes.items():
        if pk not in reasons_only:
            # The log's queryset refuses every update but the outbox marker's; this is the one sanctioned
            # exception, so it goes past that guard on purpose (and on PostgreSQL past the trigger, see above).
            models.QuerySet.update(Event.objects.filter(pk=pk), **values)
    if reasons_only:
        models.QuerySet.update(Event.objects.filter(pk__in=reasons_only), reason=ANONYMISED_TEXT)
    _allow_event_redaction(False)
    return len(changes)


def _allow_event_redaction(allowed: bool) -> None:
    """Let the event log's trigger accept new reasons and data, for the rest of this transaction or until
    switched off. If the transaction (or its savepoint) rolls back, PostgreSQL reverts the setting too."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tierdesk.redact_events', %s, true)", ["on" if allowed else "off"])


def _admin_history(model, pks, text: str) -> None:
    """The admin's history keeps each object's name as it was shown (a requester's is their name and address)."""
    if not pks:
        return
    kind = ContentType.objects.get_for_model(model)
    LogEntry.objects.filter(content_type=kind, object_id__in=[str(pk) for pk in pks]).update(object_repr=text[:200])


def _remove_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError:  # nothing in the database points to it any more: a person has to remove it
            logger.warning("An anonymised attachment's file %s could not be removed from storage.", name,
                           exc_info=True)
