"""The ticket workflow as data: statuses, actions, and the transition table.

A reader sees every legal move here on one screen. Nothing in this module
touches the database; `tickets.services` asks it what is allowed and does the
writing.
"""
from dataclasses import dataclass

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from tiers.roles import Role


class Status(TextChoices):
    NEW = "new", _("new")
    DIAGNOSING = "diagnosing", _("diagnosing")
    RESOLVING = "resolving", _("resolving")
    WAITING = "waiting", _("waiting for customer")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


OPEN_STATUSES = (Status.NEW, Status.DIAGNOSING, Status.RESOLVING, Status.WAITING)


class Action(TextChoices):
    TAKE = "take", _("take")
    ASSIGN = "assign", _("assign")
    DIAGNOSE = "diagnose", _("save diagnosis")
    START_RESOLVING = "start_resolving", _("start resolving")
    WAIT = "wait", _("wait for customer")
    RESUME = "resume", _("resume")
    RESOLVE = "resolve", _("resolve")
    ESCALATE = "escalate", _("escalate")
    DE_ESCALATE = "de_escalate", _("de-escalate")
    REOPEN = "reopen", _("reopen")
    CLOSE = "close", _("close")
    COMMENT = "comment", _("comment")
    ATTACH = "attach", _("attach a file")
    UPDATE = "update", _("edit")
    USE_SUGGESTION = "use_suggestion", _("use a suggestion")
    UNLINK_REPEAT = "unlink_repeat", _("unlink the repeat contact")
    # Issue #12, merge, links and tags (tickets.merge, tickets.links, tickets.tags).
    MERGE = "merge", _("merge into another ticket")
    LINK = "link", _("link a related ticket")
    TAG = "tag", _("tag")


class EventKind(TextChoices):
    CREATED = "created", _("created")
    TAKEN = "taken", _("taken")
    ASSIGNED = "assigned", _("assigned")
    DIAGNOSED = "diagnosed", _("diagnosis saved")
    RESOLVING_STARTED = "resolving_started", _("resolving started")
    WAITING = "waiting", _("waiting for customer")
    RESUMED = "resumed", _("resumed")
    RESOLVED = "resolved", _("resolved")
    ESCALATED = "escalated", _("escalated")
    DE_ESCALATED = "de_escalated", _("de-escalated")
    REOPENED = "reopened", _("reopened")
    CLOSED = "closed", _("closed")
    COMMENTED = "commented", _("commented")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACHED = "sla_breached", _("SLA breached")
    REPEAT_LINKED = "repeat_linked", _("linked as repeat contact")
    ATTACHED = "attached", _("file attached")
    UPDATED = "updated", _("edited")
    SUGGESTION_USED = "suggestion_used", _("suggestion used")
    REPEAT_UNLINKED = "repeat_unlinked", _("repeat link removed")
    MERGED = "merged", _("merged into another ticket")
    MERGED_IN = "merged_in", _("duplicate merged in")
    LINKED = "linked", _("related ticket linked")
    UNLINKED = "unlinked", _("related ticket unlinked")
    TAGGED = "tagged", _("tags changed")


# Targets that are not a fixed status.
SAME = "<same>"  # the status does not change (save diagnosis, assign, comment)
PREVIOUS = "<previous>"  # back to the status the ticket had before `waiting`

DIAGNOSIS_FIELDS = ("affected_item", "steps_before", "findings")
FIELD_LABELS = {
    "affected_item": _("affected item"),
    "steps_before": _("steps before the fault"),
    "findings": _("findings"),
    "resolution_summary": _("resolution summary"),
    "reason": _("reason"),
    "assignee": _("assignee"),
    "body": _("text"),
}

AGENTS = frozenset({Role.AGENT, Role.MANAGER})
AGENTS_AND_SYSTEM = AGENTS | {Role.SYSTEM}
EVERYONE = AGENTS | {Role.CUSTOMER, Role.SYSTEM}


@dataclass(frozen=True)
class Transition:
    target: str
    event: EventKind
    actors: frozenset
    required: tuple[str, ...] = ()
    tier_step: int = 0  # +1 escalates to the next tier, -1 returns to the previous one


def _escalate(step, event):
    return Transition(Status.NEW, event, AGENTS_AND_SYSTEM if step > 0 else AGENTS, ("reason",), tier_step=step)


# The system assigns too: automatic assignment within a tier (tickets/assignment.py).
_ASSIGN = Transition(SAME, EventKind.ASSIGNED, AGENTS_AND_SYSTEM, ("assignee",))
_COMMENT = Transition(SAME, EventKind.COMMENTED, EVERYONE, ("body",))
_ATTACH = Transition(SAME, EventKind.ATTACHED, EVERYONE)
# Subject, description, priority and category of an open ticket.
_UPDATE = Transition(SAME, EventKind.UPDATED, AGENTS)
_ESCALATE = _escalate(+1, EventKind.ESCALATED)
_DE_ESCALATE = _escalate(-1, EventKind.DE_ESCALATED)
_WAIT = Transition(Status.WAITING, EventKind.WAITING, AGENTS)
_DIAGNOSE = Transition(SAME, EventKind.DIAGNOSED, AGENTS)
# An earlier fix or an article linked to the ticket, or pasted into a reply (knowledge base).
_USE_SUGGESTION = Transition(SAME, EventKind.SUGGESTION_USED, AGENTS)
# The agent decides a ticket linked as a repeat contact is not one.
_UNLINK_REPEAT = Transition(SAME, EventKind.REPEAT_UNLINKED, AGENTS)
# A duplicate is closed by merging it into an open primary (tickets.merge checks the primary's side).
_MERGE = Transition(Status.CLOSED, EventKind.MERGED, AGENTS)
# The primary's side of a merge: not an action of its own, written by tickets.merge with the duplicate's.
MERGED_IN = Transition(SAME, EventKind.MERGED_IN, AGENTS)
# Linking and tagging change neither status nor tier; `closed` stays untouched.
_LINK = Transition(SAME, EventKind.LINKED, AGENTS)
_TAG = Transition(SAME, EventKind.TAGGED, AGENTS)

TRANSITIONS: dict[tuple[str, str], Transition] = {
    (Status.NEW, Action.TAKE): Transition(Status.DIAGNOSING, EventKind.TAKEN, AGENTS),
    (Status.NEW, Action.ASSIGN): _ASSIGN,
    (Status.NEW, Action.ESCALATE): _ESCALATE,
    (Status.NEW, Action.DE_ESCALATE): _DE_ESCALATE,
    (Status.NEW, Action.COMMENT): _COMMENT,
    (Status.NEW, Action.ATTACH): _ATTACH,
    (Status.NEW, Action.UPDATE): _UPDATE,
    (Status.NEW, Action.USE_SUGGESTION): _USE_SUGGESTION,
    (Status.NEW, Action.UNLINK_REPEAT): _UNLINK_REPEAT,
    (Status.NEW, Action.MERGE): _MERGE,
    (Status.NEW, Action.LINK): _LINK,
    (Status.NEW, Action.TAG): _TAG,
    (Status.DIAGNOSING, Action.DIAGNOSE): _DIAGNOSE,
    (Status.DIAGNOSING, Action.START_RESOLVING): Transition(
        Status.RESOLVING, EventKind.RESOLVING_STARTED, AGENTS, DIAGNOSIS_FIELDS
    ),
    (Status.DIAGNOSING, Action.WAIT): _WAIT,
    # A quick L1 fix goes straight to resolved, with diagnosis and resolution.
    (Status.DIAGNOSING, Action.RESOLVE): Transition(
        Status.RESOLVED, EventKind.RESOLVED, AGENTS, (*DIAGNOSIS_FIELDS, "resolution_summary")
    ),
    (Status.DIAGNOSING, Action.ESCALATE): _ESCALATE,
    (Status.DIAGNOSING, Action.DE_ESCALATE): _DE_ESCALATE,
    (Status.DIAGNOSING, Action.ASSIGN): _ASSIGN,
    (Status.DIAGNOSING, Action.COMMENT): _COMMENT,
    (Status.DIAGNOSING, Action.ATTACH): _ATTACH,
    (Status.DIAGNOSING, Action.UPDATE): _UPDATE,
    (Status.DIAGNOSING, Action.USE_SUGGESTION): _USE_SUGGESTION,
    (Status.DIAGNOSING, Action.UNLINK_REPEAT): _UNLINK_REPEAT,
    (Status.DIAGNOSING, Action.MERGE): _MERGE,
    (Status.DIAGNOSING, Action.LINK): _LINK,
    (Status.DIAGNOSING, Action.TAG): _TAG,
    (Status.RESOLVING, Action.DIAGNOSE): _DIAGNOSE,
    (Status.RESOLVING, Action.WAIT): _WAIT,
    (Status.RESOLVING, Action.RESOLVE): Transition(
        Status.RESOLVED, EventKind.RESOLVED, AGENTS, ("resolution_summary",)
    ),
    (Status.RESOLVING, Action.ESCALATE): _ESCALATE,
    (Status.RESOLVING, Action.DE_ESCALATE): _DE_ESCALATE,
    (Status.RESOLVING, Action.ASSIGN): _ASSIGN,
    (Status.RESOLVING, Action.COMMENT): _COMMENT,
    (Status.RESOLVING, Action.ATTACH): _ATTACH,
    (Status.RESOLVING, Action.UPDATE): _UPDATE,
    (Status.RESOLVING, Action.USE_SUGGESTION): _USE_SUGGESTION,
    (Status.RESOLVING, Action.UNLINK_REPEAT): _UNLINK_REPEAT,
    (Status.RESOLVING, Action.MERGE): _MERGE,
    (Status.RESOLVING, Action.LINK): _LINK,
    (Status.RESOLVING, Action.TAG): _TAG,
    # The customer's reply resumes a waiting ticket automatically.
    (Status.WAITING, Action.RESUME): Transition(PREVIOUS, EventKind.RESUMED, EVERYONE),
    (Status.WAITING, Action.ESCALATE): _ESCALATE,
    (Status.WAITING, Action.DE_ESCALATE): _DE_ESCALATE,
    (Status.WAITING, Action.ASSIGN): _ASSIGN,
    (Status.WAITING, Action.COMMENT): _COMMENT,
    (Status.WAITING, Action.ATTACH): _ATTACH,
    (Status.WAITING, Action.UPDATE): _UPDATE,
    (Status.WAITING, Action.USE_SUGGESTION): _USE_SUGGESTION,
    (Status.WAITING, Action.UNLINK_REPEAT): _UNLINK_REPEAT,
    (Status.WAITING, Action.MERGE): _MERGE,
    (Status.WAITING, Action.LINK): _LINK,
    (Status.WAITING, Action.TAG): _TAG,
    # Confirmed by the customer, or closed after AUTO_CLOSE_DAYS of silence.
    (Status.RESOLVED, Action.CLOSE): Transition(Status.CLOSED, EventKind.CLOSED, EVERYONE),
    # "Still not fixed": a reopen keeps tier and assignee and counts as a repeat contact.
    (Status.RESOLVED, Action.REOPEN): Transition(
        Status.DIAGNOSING, EventKind.REOPENED, AGENTS | {Role.CUSTOMER}, ("reason",)
    ),
    (Status.RESOLVED, Action.COMMENT): _COMMENT,
    (Status.RESOLVED, Action.ATTACH): _ATTACH,
    (Status.RESOLVED, Action.UNLINK_REPEAT): _UNLINK_REPEAT,
    (Status.RESOLVED, Action.LINK): _LINK,
    (Status.RESOLVED, Action.TAG): _TAG,
    # `closed` is terminal: nothing leaves it.
}

# Only these actors may attach a satisfaction rating when closing.
CSAT_ROLES = frozenset({Role.CUSTOMER, Role.INTEGRATION})


def transition_for(status: str, action: str) -> Transition | None:
    """The transition for this action in this status, or None when it is not allowed."""
    return TRANSITIONS.get((status, action))


def actions_from(status: str) -> list[str]:
    """Every action the table allows from a status, in table order."""
    return [action for (source, action) in TRANSITIONS if source == status]


def missing_fields(transition: Transition, values: dict) -> list[str]:
    """Names of the required fields that are empty in `values`."""
    return [name for name in transition.required if not _filled(values.get(name))]


def _filled(value) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None
