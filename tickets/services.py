"""The only code that changes tickets.

Every change — from the desk, the portal, the API, e-mail or a timer — comes
through one of these functions. Each one runs in a transaction, locks the
ticket row, checks the caller's `version`, asks the workflow table and the
policy whether the move is allowed, writes the ticket with a conditional
update on `version`, appends an `Event`, and hands the event to the outbox
once the transaction commits. A refusal is always a `TicketError`.
"""
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from tickets import backlog, merge, outbox, similarity, tags
from tickets.assignment import pick_assignee
from tickets.deadlines import CLOCK_FIELDS, Clock, business_time_to_resolve, clock_changes, due_points, next_check
from tickets.exceptions import TicketError, not_found
from tickets.models import (
    Attachment,
    Category,
    Channel,
    Comment,
    Event,
    Priority,
    Requester,
    Ticket,
    TicketLink,
    format_reference,
)
from tickets.policy import Actor, refusal, target_tier
from tickets.portal import tokens
from tickets.workflow import (
    CSAT_ROLES,
    DIAGNOSIS_FIELDS,
    FIELD_LABELS,
    MERGED_IN,
    PREVIOUS,
    SAME,
    Action,
    EventKind,
    Status,
    Transition,
    missing_fields,
    transition_for,
)
from tiers.models import Tier
from tiers.roles import Role, staff_role, tier_ids_of
from tiers.selectors import lowest_tier, tier_above, tier_by_id

SUBJECT_MAX = 200
# A requester's latest tickets in the repeat window compared with a new one.
REPEAT_CANDIDATES = 50
AFFECTED_ITEM_MAX = 200


# --- creation -------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    subject: str,
    description: str,
    requester_email: str,
    requester_name: str = "",
    priority: str = Priority.P3,
    category: Category | None = None,
    channel: str = Channel.WEB,
    tier: Tier | None = None,
    actor: Actor | None = None,
    language: str = "",
    repeat_of: Ticket | None = None,
    call: "Call | None" = None,
) -> Ticket:
    """Open a ticket in the lowest tier's queue (or `tier`).

    `actor` is None when the customer opens the ticket themselves (portal,
    e-mail); an agent entering a phone ticket passes their own actor and the
    `call` they took, which is the ticket's first response. `language` is the
    customer's, for the e-mails they get. A ticket from a requester who opened
    one in the same category within REPEAT_WINDOW_DAYS is linked to the latest
    such ticket as a repeat contact; `repeat_of` links it to a given ticket
    instead (a follow-up to a closed ticket).
    """
    subject = _one_line(subject)
    description = (description or "").strip()
    email = (requester_email or "").strip().lower()
    errors = {}
    if not subject:
        errors["subject"] = _("A subject is required.")
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = _("The subject is longer than %(max)d characters.") % {"max": SUBJECT_MAX}
    if not description:
        errors["description"] = _("A description is required.")
    try:
        validate_email(email)
    except ValidationError:
        errors["requester_email"] = _("Enter a valid e-mail address.")
    if priority not in Priority.values:
        errors["priority"] = _("Unknown priority.")
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel.")
    now = timezone.now()
    if call is not None:
        if actor is None or not actor.is_staff:
            raise TicketError(TicketError.FORBIDDEN, _("Only agents can log a call."))
        errors.update(call.errors(now))
    if errors:
        raise TicketError(TicketError.INVALID, " ".join(str(e) for e in errors.values()), fields=list(errors))

    requester, created = Requester.objects.get_or_create(
        email=email, defaults={"name": _one_line(requester_name), "language": language or ""}
    )
    updates = {}
    if not created and not requester.name and requester_name:
        updates["name"] = _one_line(requester_name)
    if not created and language and requester.language != language:
        updates["language"] = language
    if updates:
        for name, value in updates.items():
            setattr(requester, name, value)
        requester.save(update_fields=list(updates))
    tier = tier or lowest_tier()
    repeat_basis = {"basis": "given"} if repeat_of is not None else {}
    if repeat_of is None:
        repeat_of, repeat_basis = _find_repeat(
            requester=requester, category=category, text=f"{subject}\n{description}", now=now
        )
    staff_user = actor.user if actor is not None and actor.is_staff else None
    ticket = Ticket(
        subject=subject,
        description=description,
        requester=requester,
        priority=priority,
        category=category,
        channel=channel,
        tier=tier,
        repeat_of=repeat_of,
        created_by=staff_user,
        created_at=now,
        updated_at=now,
        search_text=f"{subject}\n{description}",
        # The agent who took the call has answered the customer: the call is the first response.
        first_response_at=now if call is not None else None,
    )
    for name, value in clock_changes(ticket, from_status="", tier_changed=True, now=now).items():
        setattr(ticket, name, value)
    ticket.tracking_salt = tokens.new_salt()
    ticket.save(force_insert=True)
    # The tracking token is derived from the id, known only now.
    ticket.tracking_token_hash = tokens.token_hash(tokens.tracking_token(ticket))
    Ticket.objects.filter(pk=ticket.pk).update(tracking_token_hash=ticket.tracking_token_hash)
    actor = actor or Actor.customer(requester)
    backlog.moved(to_tier_id=tier.pk, to_status=Status.NEW)
    _append_event(
        ticket,
        actor,
        EventKind.CREATED,
        at=now,
        to_status=Status.NEW,
        to_tier=tier,
        data={"channel": channel, "priority": priority, **({"call": call.as_data()} if call else {})},
    )
    if call is not None and call.notes:
        notes = Comment.objects.create(
            ticket=ticket, author=actor.user, author_role=actor.role, body=call.notes, internal=True, created_at=now
        )
        _append_event(
            ticket, actor, EventKind.COMMENTED, at=now, from_status=Status.NEW, to_status=Status.NEW,
            from_tier=tier, to_tier=tier, data={"internal": True, "author_role": actor.role, "comment_id": notes.pk},
        )
    if repeat_of is not None:
        _append_event(
            ticket,
            Actor.system(),
            EventKind.REPEAT_LINKED,
            at=now,
            from_status=Status.NEW,
            to_status=Status.NEW,
            from_tier=tier,
            to_tier=tier,
            data={"repeat_of": repeat_of.pk, "reference": repeat_of.reference, **repeat_basis},
        )
    return _auto_assign(ticket)


@dataclass(frozen=True)
class Call:
    """A phone call an agent took: when it started, how long it took, and their notes (kept as an internal note)."""

    started_at: datetime
    minutes: int | None = None
    notes: str = ""

    MAX_AGE = timedelta(days=7)
    MAX_MINUTES = 600

    def errors(self, now) -> dict:
        errors = {}
        if self.started_at > now + timedelta(minutes=1):
            errors["call_started_at"] = _("The call cannot start in the future.")
        elif self.started_at < now - self.MAX_AGE:
            errors["call_started_at"] = _("Log a call within a week of taking it.")
        if self.minutes is not None and not 0 <= self.minutes <= self.MAX_MINUTES:
            errors["call_minutes"] = _("The call's length must be 0 to %(max)d minutes.") % {"max": self.MAX_MINUTES}
        return errors

    def as_data(self) -> dict:
        return {"started_at": self.started_at.isoformat(), "minutes": self.minutes, "notes": bool(self.notes)}


def _find_repeat(*, requester: Requester, category: Category | None, text: str, now) -> tuple[Ticket | None, dict]:
    """The earlier ticket of this requester, within the repeat window, that the new one repeats, and why.

    The most similar text wins when it is at least REPEAT_SIMILARITY alike, whatever its category; otherwise
    the latest ticket in the same category (index ticket_requester_created: the requester's recent tickets).
    """
    since = now - timedelta(days=settings.REPEAT_WINDOW_DAYS)
    recent = list(
        Ticket.objects.filter(requester=requester, created_at__gte=since)
        .order_by("-created_at", "-id")
        .only("pk", "subject", "description", "category_id")[:REPEAT_CANDIDATES]
    )
    if not recent:
        return None, {}
    new = similarity.profile(text)
    scored = [(similarity.similarity(new, f"{t.subject}\n{t.description}"), t) for t in recent]
    best_score, best = max(scored, key=lambda pair: pair[0])  # max keeps the first (latest) of equals
    if best_score >= settings.REPEAT_SIMILARITY:
        return best, {"basis": "text", "similarity": round(best_score, 2)}
    if category is not None:
        for score, ticket in scored:
            if ticket.category_id == category.pk:
                return ticket, {"basis": "category", "similarity": round(score, 2)}
    return None, {}


# --- workflow transitions -------------------------------------------------


@transaction.atomic
def ticket_take(*, actor: Actor, ticket_id: int, version: int | None = None) -> Ticket:
    """An agent of the ticket's tier takes a new ticket: it becomes theirs and diagnosis starts."""
    ticket, transition = _prepare(actor, ticket_id, Action.TAKE, version)
    return _apply(ticket, transition, actor, changes={"assignee": actor.user})


@transaction.atomic
def ticket_assign(*, actor: Actor, ticket_id: int, assignee, version: int | None = None) -> Ticket:
    """Give an open ticket to an agent who can act on its tier (or a manager)."""
    ticket, transition = _prepare(actor, ticket_id, Action.ASSIGN, version, values={"assignee": assignee})
    role = staff_role(assignee)
    if role is None or (role == Role.AGENT and ticket.tier_id not in tier_ids_of(assignee)):
        raise TicketError(
            TicketError.INVALID,
            _("%(user)s cannot work on %(tier)s tickets.") % {"user": assignee, "tier": ticket.tier},
            fields=["assignee"],
        )
    return _apply(
        ticket, transition, actor, changes={"assignee": assignee}, data={"assignee": assignee.get_username()}
    )


@transaction.atomic
def ticket_diagnose(
    *,
    actor: Actor,
    ticket_id: int,
    affected_item: str | None = None,
    steps_before: str | None = None,
    findings: str | None = None,
    version: int | None = None,
) -> Ticket:
    """Save the diagnosis: which item fails, what was done before the fault, what was found."""
    changes = _diagnosis_changes(affected_item=affected_item, steps_before=steps_before, findings=findings)
    if not changes:
        raise TicketError(TicketError.INVALID, _("Nothing to save: give at least one diagnosis field."))
    ticket, transition = _prepare(actor, ticket_id, Action.DIAGNOSE, version)
    return _apply(ticket, transition, actor, changes=changes, data={"fields": sorted(changes)})


@transaction.atomic
def ticket_start_resolving(*, actor: Actor, ticket_id: int, version: int | None = None) -> Ticket:
    """The cause is known (the diagnosis is complete): start finding and applying the fix."""
    ticket, transition = _prepare(actor, ticket_id, Action.START_RESOLVING, version)
    return _apply(ticket, transition, actor)


@transaction.atomic
def ticket_wait(*, actor: Actor, ticket_id: int, reason: str = "", version: int | None = None) -> Ticket:
    """Wait for the customer's answer; the SLA clocks pause until the ticket resumes."""
    ticket, transition = _prepare(actor, ticket_id, Action.WAIT, version)
    return _apply(ticket, transition, actor, changes={"waiting_from": ticket.status}, reason=reason)


@transaction.atomic
def ticket_resume(*, actor: Actor, ticket_id: int, version: int | None = None) -> Ticket:
    """Back to the status the ticket had before it started waiting."""
    ticket, transition = _prepare(actor, ticket_id, Action.RESUME, version)
    return _apply(ticket, transition, actor, changes={"waiting_from": ""})


@transaction.atomic
def ticket_resolve(
    *,
    actor: Actor,
    ticket_id: int,
    summary: str,
    affected_item: str | None = None,
    steps_before: str | None = None,
    findings: str | None = None,
    version: int | None = None,
) -> Ticket:
    """The fix is applied; the customer is asked to confirm. From diagnosing the diagnosis may come along."""
    changes = _diagnosis_changes(affected_item=affected_item, steps_before=steps_before, findings=findings)
    changes["resolution_summary"] = (summary or "").strip()
    ticket, transition = _prepare(actor, ticket_id, Action.RESOLVE, version, values=changes)
    now = changes["resolved_at"] = timezone.now()
    changes["resolve_business_us"] = business_time_to_resolve(ticket.created_at, now, ticket.tier_id,
                                                              ticket.priority)
    # The event's moment is the ticket's resolved_at: the log and the ticket tell the same time.
    return _apply(ticket, transition, actor, changes=changes, at=now)


@transaction.atomic
def ticket_escalate(*, actor: Actor, ticket_id: int, reason: str, version: int | None = None) -> Ticket:
    """Move the ticket to the next tier's queue: status new, no assignee; the diagnosis travels along.

    An automatic escalation passes the system actor and the reason ``sla_timer``.
    """
    return _escalate(actor, _locked(ticket_id), reason=reason, version=version)


def _escalate(actor: Actor, ticket: Ticket, *, reason: str, version: int | None = None) -> Ticket:
    reason = (reason or "").strip()
    ticket, transition = _prepare(actor, ticket, Action.ESCALATE, version, values={"reason": reason})
    ticket = _apply(ticket, transition, actor, changes={"assignee": None, "waiting_from": ""}, reason=reason)
    return _auto_assign(ticket)


def _auto_assign(ticket: Ticket) -> Ticket:
    """Give a ticket that has just arrived in its tier's queue (created, or escalated into the tier) to one of
    the tier's agents, when the tier assigns automatically; `tickets.assignment` chooses under the tier's lock.
    Recorded as an `assigned` event by the system, a change of its own (version bumped). Nobody eligible: the
    ticket stays unassigned in the queue, with no event."""
    assignee = pick_assignee(ticket, ticket.tier_id)
    if assignee is None:
        return ticket
    system = Actor.system()
    ticket, transition = _prepare(system, ticket, Action.ASSIGN, None, values={"assignee": assignee})
    return _apply(
        ticket, transition, system, changes={"assignee": assignee},
        data={"assignee": assignee.get_username(), "automatic": True},
    )


@transaction.atomic
def ticket_de_escalate(
    *, actor: Actor, ticket_id: int, reason: str, defect: bool = False, version: int | None = None
) -> Ticket:
    """Send the ticket back to the previous tier; `defect` marks an escalation that should not have happened."""
    reason = (reason or "").strip()
    ticket, transition = _prepare(actor, ticket_id, Action.DE_ESCALATE, version, values={"reason": reason})
    return _apply(
        ticket,
        transition,
        actor,
        changes={"assignee": None, "waiting_from": ""},
        reason=reason,
        data={"defect": bool(defect)},
    )


@transaction.atomic
def ticket_reopen(*, actor: Actor, ticket_id: int, reason: str, version: int | None = None) -> Ticket:
    """"Still not fixed": back to diagnosing with the same tier and assignee; a repeat contact."""
    reason = (reason or "").strip()
    ticket, transition = _prepare(actor, ticket_id, Action.REOPEN, version, values={"reason": reason})
    return _apply(ticket, transition, actor, changes={"reopen_count": ticket.reopen_count + 1}, reason=reason)


@transaction.atomic
def ticket_close(
    *,
    actor: Actor,
    ticket_id: int,
    csat: int | None = None,
    comment: str = "",
    version: int | None = None,
) -> Ticket:
    """Close a resolved ticket: the customer confirmed the fix (optionally rating it 1–5), or silence timed out."""
    if csat is not None:
        if actor.role not in CSAT_ROLES:
            raise TicketError(TicketError.FORBIDDEN, _("Only the customer can rate the help they received."))
        if isinstance(csat, bool) or not isinstance(csat, int) or not 1 <= csat <= 5:
            raise TicketError(TicketError.INVALID, _("The rating must be a whole number from 1 to 5."), fields=["csat"])
    comment = (comment or "").strip()
    ticket, transition = _prepare(actor, ticket_id, Action.CLOSE, version)
    now = timezone.now()
    changes = {"closed_at": now, "csat_rating": csat, "csat_comment": comment}
    data = {"csat": csat} if csat is not None else {}
    if actor.role == Role.SYSTEM:
        data["auto"] = True
    return _apply(ticket, transition, actor, changes=changes, reason=comment, data=data, at=now)


@transaction.atomic
def comment_add(
    *, actor: Actor, ticket_id: int, body: str, internal: bool = False, version: int | None = None
) -> Comment:
    """Add a public reply or an internal note.

    A public reply by staff is a first response. A customer's reply to a
    waiting ticket resumes it, in the same transaction.
    """
    body = (body or "").strip()
    if internal and not actor.is_staff:
        raise TicketError(TicketError.FORBIDDEN, _("Only agents can write internal notes."))
    ticket, transition = _prepare(actor, ticket_id, Action.COMMENT, version, values={"body": body})
    now = timezone.now()
    comment = Comment.objects.create(
        ticket=ticket,
        author=actor.user,
        author_requester=actor.requester,
        author_role=actor.role,
        body=body,
        internal=internal,
        created_at=now,
    )
    _apply(
        ticket,
        transition,
        actor,
        changes={"search_text": f"{ticket.search_text}\n{body}"},
        at=now,
        responds=actor.is_staff and not internal,
        data={"internal": internal, "author_role": actor.role, "comment_id": comment.pk},
    )
    if actor.role == Role.CUSTOMER and ticket.status == Status.WAITING:
        ticket, transition = _prepare(actor, ticket, Action.RESUME, None)
        _apply(ticket, transition, actor, changes={"waiting_from": ""}, data={"trigger": "customer_reply"})
    return comment


@transaction.atomic
def ticket_unlink_repeat(*, actor: Actor, ticket_id: int, version: int | None = None) -> Ticket:
    """The agent decides the ticket is not a repeat contact: `repeat_of` is cleared (metrics stop counting it)."""
    ticket, transition = _prepare(actor, ticket_id, Action.UNLINK_REPEAT, version)
    if ticket.repeat_of_id is None:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("This ticket is not linked as a repeat contact."))
    was = ticket.repeat_of_id
    return _apply(ticket, transition, actor, changes={"repeat_of": None},
                  data={"repeat_of": was, "reference": format_reference(was)})


@transaction.atomic
def suggestion_record(*, actor: Actor, ticket_id: int, data: dict) -> Event:
    """Note on the ticket's timeline that an agent used a suggestion (an earlier fix or an article).

    Checked like any action, but it changes nothing on the ticket, so the version stays: a reply the agent is
    typing with the suggestion pasted in is not refused as stale.
    """
    ticket, transition = _prepare(actor, ticket_id, Action.USE_SUGGESTION, None)
    return _append_event(ticket, actor, transition.event, at=timezone.now(), from_status=ticket.status,
                         to_status=ticket.status, from_tier=tier_by_id(ticket.tier_id),
                         to_tier=tier_by_id(ticket.tier_id), data=data)


# --- editing and files --------------------------------------------------------

EDITABLE_FIELDS = ("subject", "description", "priority", "category")
# Files that browsers would run or render are refused whatever their name claims.
ALLOWED_EXTENSIONS = frozenset([
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "bmp", "txt", "log", "csv", "json", "xml", "zip", "7z", "gz", "tar",
    "eml", "msg", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf",
])
_MAGIC = {
    "pdf": (b"%PDF",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "gz": (b"\x1f\x8b",),
}


@transaction.atomic
def ticket_update(*, actor: Actor, ticket_id: int, version: int | None = None, **fields) -> Ticket:
    """Edit subject, description, priority or category of an open ticket. A new priority restarts the SLA clocks."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TicketError(TicketError.INVALID, _("These fields cannot be edited: %(fields)s.") % {
            "fields": ", ".join(sorted(unknown))}, fields=sorted(unknown))
    changes = {}
    if "subject" in fields:
        changes["subject"] = _one_line(fields["subject"])
        if not changes["subject"] or len(changes["subject"]) > SUBJECT_MAX:
            raise TicketError(TicketError.INVALID, _("A subject of 1 to %(max)d characters is required.") % {
                "max": SUBJECT_MAX}, fields=["subject"])
    if "description" in fields:
        changes["description"] = (fields["description"] or "").strip()
        if not changes["description"]:
            raise TicketError(TicketError.INVALID, _("A description is required."), fields=["description"])
    if "priority" in fields:
        if fields["priority"] not in Priority.values:
            raise TicketError(TicketError.INVALID, _("Unknown priority."), fields=["priority"])
        changes["priority"] = fields["priority"]
    if "category" in fields:
        changes["category"] = fields["category"]
    ticket, transition = _prepare(actor, ticket_id, Action.UPDATE, version)
    changed = {name: value for name, value in changes.items() if getattr(ticket, name) != value}
    if not changed:
        return ticket
    if "subject" in changed or "description" in changed:
        bodies = ticket.comments.order_by("id").values_list("body", flat=True)
        changed["search_text"] = "\n".join(
            [changed.get("subject", ticket.subject), changed.get("description", ticket.description), *bodies]
        )
    # The search text (every comment, internal notes included) is bookkeeping, not part of the edit's record.
    data = {
        name: {"from": _plain(getattr(ticket, name)), "to": _plain(value)}
        for name, value in changed.items()
        if name not in ("description", "search_text")
    }
    if "description" in changed:
        data["description"] = {"changed": True}
    return _apply(ticket, transition, actor, changes=changed, data=data, restart_clocks="priority" in changed)


@transaction.atomic
def attachment_add(*, actor: Actor, ticket_id: int, upload, version: int | None = None) -> Attachment:
    """Attach an uploaded file (checked for size, type and content) to a ticket."""
    name = check_upload(upload)
    ticket, transition = _prepare(actor, ticket_id, Action.ATTACH, version)
    attachment = Attachment(
        ticket=ticket,
        original_name=name,
        content_type=(getattr(upload, "content_type", "") or "application/octet-stream")[:100],
        size=upload.size,
        uploaded_by=actor.user,
        uploaded_by_requester=actor.requester,
    )
    attachment.file.save("upload", upload, save=False)  # upload_to makes the stored name
    attachment.save()
    _apply(ticket, transition, actor, data={"attachment_id": attachment.pk, "name": name, "size": upload.size})
    return attachment


# NUL and other control characters, and format characters such as the right-to-left override that can make
# "gpj.exe" read as "exe.jpg": never part of a shown file name, whichever entry point the file came through.
_UNSHOWN = {"Cc": " ", "Cf": ""}


def check_upload(upload) -> str:
    """Refuse a file that is too large, of a type we do not take, or whose content belies its name.

    Returns the file name to show (one line, no path).
    """
    raw = "".join(_UNSHOWN.get(unicodedata.category(ch), ch) for ch in getattr(upload, "name", "") or "")
    name = _one_line(raw).replace("/", "_").replace("\\", "_")[:255] or "file"
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise TicketError(TicketError.TOO_LARGE, _("Files may be at most %(size)s.") % {
            "size": filesizeformat(settings.ATTACHMENT_MAX_BYTES)}, fields=["file"])
    if extension not in ALLOWED_EXTENSIONS:
        raise TicketError(TicketError.INVALID, _("Files of type “%(ext)s” are not accepted.") % {
            "ext": extension or _("none")}, fields=["file"])
    head = upload.read(16)
    upload.seek(0)
    if extension in _MAGIC and not head.startswith(_MAGIC[extension]):
        raise TicketError(TicketError.INVALID, _("The file's content does not match its name."), fields=["file"])
    return name


def _plain(value):
    return getattr(value, "slug", value)


# --- SLA timers -------------------------------------------------------------

SLA_TIMER_REASON = "sla_timer"
RUNNING_STATUSES = (Status.NEW, Status.DIAGNOSING, Status.RESOLVING)


@transaction.atomic
def ticket_sla_check(*, ticket_id: int, now=None) -> list[str]:
    """Record the SLA warnings and breaches now due on one ticket; escalate it when its tier time is up.

    At the last tier the end of the tier time is recorded as a breach instead.
    Returns what was done, e.g. ``["escalation_warning", "escalated"]``.
    Running it again at the same moment changes nothing: each point is
    recorded once (`sla_flags`), and the re-read under the row lock sees what
    a concurrent check already did.
    """
    return sla_check_locked(_locked(ticket_id), now=now)


def sla_check_locked(ticket: Ticket, *, now=None) -> list[str]:
    """`ticket_sla_check` for a row the caller's transaction has already locked and read (the sweep claims
    whole batches this way: no second read, no savepoint per ticket)."""
    now = now or timezone.now()
    if ticket.status not in RUNNING_STATUSES or ticket.sla_next_check_at is None or ticket.sla_next_check_at > now:
        return []
    done = []
    escalate = False
    for point in due_points(ticket, now):
        if point.clock == Clock.ESCALATION and point.breach and tier_above(ticket.tier_id) is not None:
            escalate = True
            continue
        _append_event(
            ticket,
            Actor.system(),
            EventKind.SLA_BREACHED if point.breach else EventKind.SLA_WARNING,
            at=now,
            from_status=ticket.status,
            to_status=ticket.status,
            from_tier=tier_by_id(ticket.tier_id),
            to_tier=tier_by_id(ticket.tier_id),
            data={"clock": point.clock.value, "due_at": getattr(ticket, f"{point.clock.value}_due_at").isoformat()},
        )
        ticket.sla_flags |= point.flag
        done.append(f"{point.clock.value}_{'breach' if point.breach else 'warning'}")
    if escalate:
        # Escalating recomputes every clock and writes the flags set above.
        _escalate(Actor.system(), ticket, reason=SLA_TIMER_REASON)
        done.append("escalated")
        return done
    values = {name: getattr(ticket, name) for name in CLOCK_FIELDS}
    values["sla_flags"] = ticket.sla_flags
    ticket.sla_next_check_at = next_check(values, responded=ticket.first_response_at is not None)
    # SLA bookkeeping is not a change of the ticket: no version bump, so an
    # agent's open form does not go stale because a timer fired.
    Ticket.objects.filter(pk=ticket.pk).update(sla_flags=ticket.sla_flags, sla_next_check_at=ticket.sla_next_check_at)
    return done


# --- merge, links and tags (tickets.merge, tickets.tags) -------------------------


@transaction.atomic
def ticket_merge(*, actor: Actor, ticket_id: int, into_id, version: int | None = None) -> Ticket:
    """Merge the duplicate `ticket_id` into the primary `into_id` (an id or a reference); `version` is the
    duplicate's. The duplicate's comments and attachments move to the primary, the duplicate is closed with a
    `merged` event pointing at it, and the primary records `merged_in`. The rules: `tickets.merge`."""
    duplicate_id = merge.ticket_id_of(ticket_id, field="ticket")
    primary_id = merge.ticket_id_of(into_id, field="into")
    if duplicate_id == primary_id:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("A ticket cannot be merged into itself."))
    rows = merge.lock_pair(duplicate_id, primary_id, field="into")
    duplicate, primary = rows[duplicate_id], rows[primary_id]
    if duplicate.merged_into_id is not None:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("This ticket was already merged into %(other)s.") % {
            "other": format_reference(duplicate.merged_into_id)})
    duplicate, transition = _prepare(actor, duplicate, Action.MERGE, version)
    why = merge.merge_refusal(duplicate, primary)
    if why:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, why)
    moved = merge.move_thread(duplicate, primary)
    duplicate_repeat, primary_repeat = merge.repeat_changes(duplicate, primary)
    now = timezone.now()
    # Closing by merge is not a resolution: a resolution left from before a reopen is cleared with it.
    _apply(duplicate, transition, actor, at=now,
           changes={"merged_into": primary, "closed_at": now, "resolved_at": None, "resolve_business_us": None,
                    "waiting_from": "", "search_text": f"{duplicate.subject}\n{duplicate.description}",
                    **duplicate_repeat},
           data={"into": primary.pk, "reference": primary.reference,
                 "comments": len(moved["comment_ids"]), "attachments": len(moved["attachment_ids"])})
    primary_changes = dict(primary_repeat)
    if moved["bodies"]:
        primary_changes["search_text"] = "\n".join([primary.search_text, *moved["bodies"]])
    _apply(primary, MERGED_IN, actor, at=now, changes=primary_changes,
           data={"from": duplicate.pk, "reference": duplicate.reference, "comment_ids": moved["comment_ids"],
                 "attachment_ids": moved["attachment_ids"]})
    return duplicate


@transaction.atomic
def ticket_link(*, actor: Actor, ticket_id: int, other_id, version: int | None = None) -> TicketLink:
    """Link a related ticket (an id or a reference): one unordered pair, a `linked` event on both tickets.
    `version` is this ticket's; the other ticket's version does not change (its fields do not)."""
    ticket, other, transition = _link_pair(actor, ticket_id, other_id, version)
    if merge.link_between(ticket.pk, other.pk) is not None:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("%(other)s is already linked to this ticket.") % {
            "other": other.reference})
    a, b = merge.ordered(ticket.pk, other.pk)
    link = TicketLink.objects.create(ticket_a_id=a, ticket_b_id=b, created_by=actor.user)
    _record_link(actor, ticket, other, transition, EventKind.LINKED)
    return link


@transaction.atomic
def ticket_unlink(*, actor: Actor, ticket_id: int, other_id, version: int | None = None) -> Ticket:
    """Remove the link between two tickets, with an `unlinked` event on both."""
    ticket, other, transition = _link_pair(actor, ticket_id, other_id, version)
    link = merge.link_between(ticket.pk, other.pk)
    if link is None:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("%(other)s is not linked to this ticket.") % {
            "other": other.reference})
    link.delete()
    return _record_link(actor, ticket, other, transition, EventKind.UNLINKED)


def _link_pair(actor, ticket_id, other_id, version):
    this_id = merge.ticket_id_of(ticket_id, field="ticket")
    other_id = merge.ticket_id_of(other_id, field="ticket")
    if this_id == other_id:
        raise TicketError(TicketError.ILLEGAL_TRANSITION, _("A ticket cannot be linked to itself."))
    rows = merge.lock_pair(this_id, other_id, field="ticket")
    ticket, transition = _prepare(actor, rows[this_id], Action.LINK, version)
    return ticket, rows[other_id], transition


def _record_link(actor, ticket, other, transition, kind) -> Ticket:
    now = timezone.now()
    _apply(ticket, Transition(SAME, kind, transition.actors), actor, at=now,
           data={"ticket": other.pk, "reference": other.reference})
    other_tier = tier_by_id(other.tier_id)
    _append_event(other, actor, kind, at=now, from_status=other.status, to_status=other.status,
                  from_tier=other_tier, to_tier=other_tier, data={"ticket": ticket.pk, "reference": ticket.reference})
    return ticket


@transaction.atomic
def ticket_tag(*, actor: Actor, ticket_id: int, add=(), remove=(), version: int | None = None) -> Ticket:
    """Add and remove free tags (names are normalised: `tickets.tags`); a `tagged` event lists what changed.
    Naming a tag the ticket already has (or does not have, to remove) is not an error; nothing to change at all
    leaves the ticket and its version alone."""
    add = tags.clean_names(add, field="add")
    remove = tags.clean_names(remove, field="remove")
    if not add and not remove:
        raise TicketError(TicketError.INVALID, _("Name at least one tag to add or remove."), fields=["add"])
    both = sorted(set(add) & set(remove))
    if both:
        raise TicketError(TicketError.INVALID, _("A tag cannot be added and removed at once: %(tags)s.") % {
            "tags": ", ".join(both)}, fields=["add", "remove"])
    ticket, transition = _prepare(actor, ticket_id, Action.TAG, version)
    current = set(ticket.tags.values_list("name", flat=True))
    added = [name for name in add if name not in current]
    removed = [name for name in remove if name in current]
    if len(current) + len(added) - len(removed) > tags.TAGS_PER_TICKET:
        raise TicketError(TicketError.INVALID, _("A ticket can have at most %(max)d tags.") % {
            "max": tags.TAGS_PER_TICKET}, fields=["add"])
    if not added and not removed:
        return ticket
    if added:
        rows = tags.ensure(added)
        tags.TicketTag.objects.bulk_create([tags.TicketTag(ticket_id=ticket.pk, tag_id=rows[name].pk)
                                            for name in added])
    if removed:
        tags.TicketTag.objects.filter(ticket_id=ticket.pk, tag__name__in=removed).delete()
    return _apply(ticket, transition, actor, data={"added": added, "removed": removed})


# --- the common path ------------------------------------------------------


def _prepare(actor: Actor, ticket: "int | Ticket", action: str, version: int | None, *, values: dict | None = None):
    """Lock the ticket and check version, workflow, policy, target tier and required fields.

    Must run inside a transaction; `ticket` is an id, or a row this transaction
    already locked. Returns the locked ticket and the transition.
    """
    if not isinstance(ticket, Ticket):
        ticket = _locked(ticket)
    if version is not None and version != ticket.version:
        raise TicketError(
            TicketError.STALE_VERSION,
            _("This ticket was changed by someone else (version %(current)d, you had %(yours)d). "
              "Reload it and try again.")
            % {"current": ticket.version, "yours": version},
        )
    transition = transition_for(ticket.status, action)
    if transition is None:
        raise TicketError(
            TicketError.ILLEGAL_TRANSITION,
            _("Cannot %(action)s a ticket that is %(status)s.")
            % {"action": Action(action).label, "status": Status(ticket.status).label},
        )
    why = refusal(actor, ticket, transition, action)
    if why:
        raise TicketError(TicketError.FORBIDDEN, why)
    if target_tier(ticket, transition) is None:
        message = (
            _("%(tier)s is the highest tier; the ticket cannot be escalated further.")
            if transition.tier_step > 0
            else _("%(tier)s is the first tier; the ticket cannot be de-escalated.")
        )
        raise TicketError(TicketError.ILLEGAL_TRANSITION, message % {"tier": ticket.tier})
    current = {name: getattr(ticket, name) for name in (*DIAGNOSIS_FIELDS, "resolution_summary")}
    missing = missing_fields(transition, {**current, **(values or {})})
    if missing:
        raise TicketError(
            TicketError.MISSING_FIELDS,
            _("To %(action)s, fill in: %(fields)s.")
            % {
                "action": Action(action).label,
                "fields": get_text_list([str(FIELD_LABELS[name]) for name in missing], _("and")),
            },
            fields=missing,
        )
    return ticket, transition


def _locked(ticket_id) -> Ticket:
    """The ticket row, locked until the transaction ends."""
    try:
        ticket_id = int(ticket_id)
    except (TypeError, ValueError):
        raise not_found() from None
    try:
        # Two writers serialise here, and the loser re-reads the winner's
        # status and version before they are checked. No join in this query:
        # under READ COMMITTED PostgreSQL re-checks a join against the
        # winner's new row and would drop the row (a ticket moved to another
        # tier would look missing).
        return Ticket.objects.select_for_update().get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise not_found() from None


def _apply(
    ticket: Ticket,
    transition: Transition,
    actor: Actor,
    *,
    changes: dict | None = None,
    reason: str = "",
    data: dict | None = None,
    at=None,
    responds: bool = False,
    restart_clocks: bool = False,
) -> Ticket:
    """Write the checked transition: conditional update on version, then the event."""
    now = at or timezone.now()
    changes = dict(changes or {})
    from_status, from_tier = ticket.status, tier_by_id(ticket.tier_id)
    if transition.target == SAME:
        to_status = from_status
    elif transition.target == PREVIOUS:
        to_status = ticket.waiting_from or Status.DIAGNOSING
    else:
        to_status = transition.target
    to_tier = target_tier(ticket, transition)
    if to_status != from_status:
        changes["status"] = to_status
    if to_tier != from_tier:
        changes["tier"] = to_tier
    # First response: the first public reply or status change by staff.
    if actor.is_staff and ticket.first_response_at is None and (responds or to_status != from_status):
        changes["first_response_at"] = now
    old_version = ticket.version
    changes["version"] = old_version + 1
    changes["updated_at"] = now
    for name, value in changes.items():
        setattr(ticket, name, value)
    clocks = clock_changes(
        ticket, from_status=from_status, tier_changed=restart_clocks or to_tier != from_tier, now=now
    )
    for name, value in clocks.items():
        setattr(ticket, name, value)
    # The row is locked, so this only misses if some writer bypassed the lock
    # (SQLite has no row locks); the version condition still refuses it.
    if not Ticket.objects.filter(pk=ticket.pk, version=old_version).update(**changes, **clocks):
        raise TicketError(TicketError.STALE_VERSION,
                          _("This ticket was changed by someone else. Reload it and try again."))
    if (to_status, to_tier) != (from_status, from_tier):
        backlog.moved(from_tier_id=from_tier.pk, from_status=from_status, to_tier_id=to_tier.pk, to_status=to_status)
    _append_event(
        ticket,
        actor,
        transition.event,
        at=now,
        from_status=from_status,
        to_status=to_status,
        from_tier=from_tier,
        to_tier=to_tier,
        reason=reason,
        data=data or {},
    )
    return ticket


_events = threading.local()


@contextmanager
def events_in_bulk():
    """Insert the events appended inside this block with one INSERT at its end, not one each, and the
    backlog's changes as one row per cell (the SLA sweep's batches). Nothing inside may need an event's id
    before the block ends; the caller's transaction covers both the changes and the inserts."""
    if getattr(_events, "pending", None) is not None:
        yield
        return
    _events.pending = []
    try:
        with backlog.in_bulk():
            yield
        pending, _events.pending = _events.pending, None
        for event in Event.objects.bulk_create(pending):
            transaction.on_commit(partial(outbox.publish, event.pk))
    finally:
        _events.pending = None


def _append_event(ticket, actor: Actor, kind, *, at, from_status="", to_status="", from_tier=None, to_tier=None,
                  reason="", data=None) -> Event:
    pending = getattr(_events, "pending", None)
    if pending is not None:
        pending.append(Event(ticket=ticket, kind=kind, at=at, actor=actor.user, actor_requester=actor.requester,
                             actor_role=actor.role, from_status=from_status, to_status=to_status,
                             from_tier=from_tier, to_tier=to_tier, reason=reason, data=data or {}))
        return pending[-1]
    event = Event.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        actor=actor.user,
        actor_requester=actor.requester,
        actor_role=actor.role,
        from_status=from_status,
        to_status=to_status,
        from_tier=from_tier,
        to_tier=to_tier,
        reason=reason,
        data=data or {},
    )
    # Side effects only after commit: a rolled-back change notifies no one.
    transaction.on_commit(partial(outbox.publish, event.pk))
    return event


def _diagnosis_changes(**fields) -> dict:
    changes = {name: value.strip() for name, value in fields.items() if value is not None}
    if len(changes.get("affected_item", "")) > AFFECTED_ITEM_MAX:
        raise TicketError(
            TicketError.INVALID,
            _("The affected item is longer than %(max)d characters.") % {"max": AFFECTED_ITEM_MAX},
            fields=["affected_item"],
        )
    return changes


def _one_line(text: str) -> str:
    """Collapse whitespace, CR and LF included: subjects and names may end up in mail headers."""
    return " ".join((text or "").split())
