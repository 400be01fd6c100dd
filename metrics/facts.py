"""The building blocks of every metric, read live from tickets and events.

`collect` walks the tickets and events of some time ranges and files each fact
under the day of its own moment (a ticket's creation, its last resolution, its
closing, a reopen, a de-escalation) and the ticket's current tier, category and
assignee. The daily rollups store exactly these facts; the selectors add up
rollups and live facts the same way, so both give identical numbers.

Durations are integer microseconds, so sums are exact and a duration stored in
a rollup is bit-for-bit the one a live query computes.
"""
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.utils import timezone

from metrics.models import DURATIONS
from tickets.deadlines import business_time_to_resolve
from tickets.models import Event, Ticket
from tickets.workflow import EventKind, Status
from tiers.selectors import lowest_tier

DONE = (Status.RESOLVED, Status.CLOSED)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Scope:
    """Which tickets count: by their current tier, category and assignee (None: any)."""

    tier: object = None
    category: object = None
    agent: object = None

    def tickets(self):
        return Ticket.objects.filter(**self._where(""))

    def events(self):
        return Event.objects.filter(**self._where("ticket__"))

    def key(self) -> tuple:
        """What identifies the scope (for cache keys)."""
        return tuple(getattr(value, "pk", None) for value in (self.tier, self.category, self.agent))

    def rollup_filter(self) -> dict:
        return self._where("")

    def _where(self, prefix: str) -> dict:
        where = {}
        if self.tier is not None:
            where[f"{prefix}tier"] = self.tier
        if self.category is not None:
            where[f"{prefix}category"] = self.category
        if self.agent is not None:
            where[f"{prefix}assignee"] = self.agent
        return where


@dataclass
class Facts:
    counts: Counter = field(default_factory=Counter)
    durations: dict = field(default_factory=lambda: {name: [] for name in DURATIONS})
    # (at_tier_id, "visited" | "escalated_out") -> count
    flow: Counter = field(default_factory=Counter)

    def add(self, other: "Facts") -> None:
        self.counts.update(other.counts)
        for name, values in other.durations.items():
            self.durations[name].extend(values)
        self.flow.update(other.flow)


# A grouping: (local day, tier id, category id, assignee id) -> the key facts are filed under.
Grouping = Callable[[object, int, int | None, int | None], object]


def by_cell(day, tier_id, category_id, assignee_id):
    """The finest grouping: the rollups' own cell."""
    return day, tier_id, category_id, assignee_id


def micro(delta: timedelta) -> int:
    return delta // MICROSECOND


def in_ranges(name: str, ranges) -> Q:
    condition = Q(pk__in=[])
    for start, end in ranges:
        condition |= Q(**{f"{name}__gte": start, f"{name}__lt": end})
    return condition


def _had(kind, **extra):
    return Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=kind, **extra))


# --- the tickets and events behind each fact (the drill-down lists use these too) ----------------------


def _holds(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def created_tickets(scope: Scope, ranges):
    """Tickets created in the ranges, with whether they are done, were ever escalated, and whether their first
    response (if any, with a due time) came in time."""
    return scope.tickets().filter(in_ranges("created_at", ranges)).annotate(
        is_done=_holds(Q(status__in=DONE)),
        was_escalated=_had(EventKind.ESCALATED),
        answered_in_time=_holds(Q(first_response_at__lte=F("response_due_at"))),
    )


def resolved_tickets(scope: Scope, ranges):
    """Tickets now resolved or closed whose last resolution falls in the ranges, with whether each counts as
    first-level (FLR) and first-contact (FCR) resolution, and as resolved in time."""
    first_level = Q(tier_id=lowest_tier().pk) & ~Q(_had(EventKind.ESCALATED))
    return scope.tickets().filter(in_ranges("resolved_at", ranges), status__in=DONE).annotate(
        is_flr=_holds(first_level),
        is_fcr=_holds(
            first_level
            & ~Q(_had(EventKind.WAITING))
            & ~Q(_had(EventKind.REOPENED))
            & ~Q(Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=EventKind.COMMENTED,
                                             actor_role="customer", at__lt=OuterRef("resolved_at"))))
        ),
        resolved_in_time=_holds(Q(resolved_at__lte=F("resolution_due_at"))),
    )


def rated_tickets(scope: Scope, ranges):
    """Tickets closed in the ranges with a satisfaction rating, and whether the customer was satisfied (≥ 4)."""
    return scope.tickets().filter(in_ranges("closed_at", ranges), csat_rating__isnull=False).annotate(
        satisfied=_holds(Q(csat_rating__gte=4))
    )


def reopen_events(scope: Scope, ranges):
    return scope.events().filter(in_ranges("at", ranges), kind=EventKind.REOPENED)


def defect_events(scope: Scope, ranges):
    """De-escalations in the ranges marked as a defect (the escalation should not have happened)."""
    return scope.events().filter(in_ranges("at", ranges), kind=EventKind.DE_ESCALATED, data__defect=True)


FLOW_KINDS = (EventKind.CREATED, EventKind.ESCALATED, EventKind.DE_ESCALATED)


def at_tier_tickets(scope: Scope, ranges, tier):
    """Tickets created in the ranges that were ever at `tier`, and whether they were escalated out of it."""
    return created_tickets(scope, ranges).filter(
        Exists(Event.objects.filter(ticket=OuterRef("pk"), kind__in=FLOW_KINDS, to_tier=tier))
    ).annotate(left_tier=_had(EventKind.ESCALATED, from_tier=tier))


def collect(ranges, scope: Scope, group: Grouping, *, durations=DURATIONS, flow: bool = True) -> dict:
    """Facts of the moments in `ranges` (a list of [start, end) pairs), grouped by `group`. Six queries.
    Only the kinds of duration named in `durations` are gathered, and the tier flow only with `flow`."""
    ranges = list(ranges)
    facts: dict = {}
    if not ranges:
        return facts
    zone = timezone.get_current_timezone()
    business = "ttr_business" in durations

    def at(moment, tier_id, category_id, assignee_id) -> Facts:
        key = group(moment.astimezone(zone).date(), tier_id, category_id, assignee_id)
        found = facts.get(key)
        if found is None:
            found = facts[key] = Facts()
        return found

    created = created_tickets(scope, ranges)
    where_created = {}
    for pk, tier_id, category_id, assignee_id, created_at, done, repeat_of, escalated, responded, due, in_time in (
        created.values_list(
            "pk", "tier_id", "category_id", "assignee_id", "created_at", "is_done", "repeat_of_id", "was_escalated",
            "first_response_at", "response_due_at", "answered_in_time",
        )
    ):
        bucket = at(created_at, tier_id, category_id, assignee_id)
        where_created[pk] = bucket
        counts = bucket.counts
        counts["created"] += 1
        counts["done"] += done
        counts["repeats"] += repeat_of is not None
        counts["escalated"] += escalated
        if responded is not None:
            bucket.durations["response"].append(micro(responded - created_at))
            if due is not None:
                counts["responded"] += 1
                counts["responded_in_time"] += in_time

    # Per-tier escalation: the tiers each created ticket was at, and the ones it was escalated out of.
    if flow and where_created:
        visited, left = set(), set()
        for ticket_id, kind, from_tier, to_tier in (
            Event.objects.filter(ticket__in=created.values("pk"), kind__in=FLOW_KINDS)
            .values_list("ticket_id", "kind", "from_tier_id", "to_tier_id")
        ):
            if to_tier is not None:
                visited.add((ticket_id, to_tier))
            if kind == EventKind.ESCALATED and from_tier is not None:
                left.add((ticket_id, from_tier))
        for ticket_id, tier_id in visited:
            where_created[ticket_id].flow[(tier_id, "visited")] += 1
        for ticket_id, tier_id in left:
            where_created[ticket_id].flow[(tier_id, "escalated_out")] += 1

    for tier_id, category_id, assignee_id, created_at, resolved_at, due, priority, flr, fcr, in_time, stored in (
        resolved_tickets(scope, ranges).values_list(
            "tier_id", "category_id", "assignee_id", "created_at", "resolved_at", "resolution_due_at", "priority",
            "is_flr", "is_fcr", "resolved_in_time", "resolve_business_us",
        )
    ):
        bucket = at(resolved_at, tier_id, category_id, assignee_id)
        counts = bucket.counts
        counts["resolved"] += 1
        counts["flr"] += flr
        counts["fcr"] += fcr
        if due is not None:
            counts["with_due"] += 1
            counts["in_time"] += in_time
        bucket.durations["ttr"].append(micro(resolved_at - created_at))
        if business:
            # Kept on the ticket when it was resolved; computed here for tickets resolved before it was kept.
            if stored is None:
                stored = business_time_to_resolve(created_at, resolved_at, tier_id, priority)
            if stored is not None:
                bucket.durations["ttr_business"].append(stored)

    for tier_id, category_id, assignee_id, closed_at, rating, satisfied in rated_tickets(scope, ranges).values_list(
        "tier_id", "category_id", "assignee_id", "closed_at", "csat_rating", "satisfied"
    ):
        counts = at(closed_at, tier_id, category_id, assignee_id).counts
        counts["rated"] += 1
        counts["rating_sum"] += rating
        counts["satisfied"] += satisfied

    for name, chosen in (("reopens", reopen_events(scope, ranges)), ("defects", defect_events(scope, ranges))):
        for tier_id, category_id, assignee_id, moment in chosen.values_list(
            "ticket__tier_id", "ticket__category_id", "ticket__assignee_id", "at"
        ):
            at(moment, tier_id, category_id, assignee_id).counts[name] += 1
    return facts
