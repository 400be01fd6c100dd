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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from metrics.models import DURATIONS
from tickets.models import Event, Ticket
from tickets.workflow import EventKind, Status
from tiers.selectors import lowest_tier, sla_policy_for
from tiers.sla import business_time_between

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


def micro(delta: timedelta) -> int:
    return delta // MICROSECOND


def business_micro(created, resolved, tier_id: int, priority: str) -> int | None:
    """Business time from creation to resolution in the calendar of the ticket's tier and priority."""
    found = sla_policy_for(tier_id, priority)
    if found is None:
        return None
    return micro(business_time_between(created, resolved, found[1]))


def in_ranges(name: str, ranges) -> Q:
    condition = Q(pk__in=[])
    for start, end in ranges:
        condition |= Q(**{f"{name}__gte": start, f"{name}__lt": end})
    return condition


def _had(kind, **extra):
    return Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=kind, **extra))


def collect(ranges, scope: Scope, group: Grouping) -> dict:
    """Facts of the moments in `ranges` (a list of [start, end) pairs), grouped by `group`. Six queries."""
    ranges = list(ranges)
    facts: dict = {}
    if not ranges:
        return facts

    def at(moment, tier_id, category_id, assignee_id) -> Facts:
        key = group(timezone.localdate(moment), tier_id, category_id, assignee_id)
        found = facts.get(key)
        if found is None:
            found = facts[key] = Facts()
        return found

    tickets = scope.tickets()
    created = tickets.filter(in_ranges("created_at", ranges))
    where_created = {}
    for pk, tier_id, category_id, assignee_id, created_at, status, repeat_of, escalated, responded, due in (
        created.annotate(was_escalated=_had(EventKind.ESCALATED)).values_list(
            "pk", "tier_id", "category_id", "assignee_id", "created_at", "status", "repeat_of_id", "was_escalated",
            "first_response_at", "response_due_at",
        )
    ):
        bucket = at(created_at, tier_id, category_id, assignee_id)
        where_created[pk] = bucket
        counts = bucket.counts
        counts["created"] += 1
        counts["done"] += status in DONE
        counts["repeats"] += repeat_of is not None
        counts["escalated"] += escalated
        if responded is not None:
            bucket.durations["response"].append(micro(responded - created_at))
            if due is not None:
                counts["responded"] += 1
                counts["responded_in_time"] += responded <= due

    # Per-tier escalation: the tiers each created ticket was at, and the ones it was escalated out of.
    if where_created:
        visited, left = set(), set()
        for ticket_id, kind, from_tier, to_tier in (
            Event.objects.filter(ticket__in=created, kind__in=(EventKind.CREATED, EventKind.ESCALATED,
                                                               EventKind.DE_ESCALATED))
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

    first_tier = lowest_tier().pk
    for (tier_id, category_id, assignee_id, created_at, resolved_at, due, priority, escalated, waited, reopened,
         replied) in (
        tickets.filter(in_ranges("resolved_at", ranges), status__in=DONE)
        .annotate(
            was_escalated=_had(EventKind.ESCALATED),
            waited=_had(EventKind.WAITING),
            reopened=_had(EventKind.REOPENED),
            replied=Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=EventKind.COMMENTED,
                                                actor_role="customer", at__lt=OuterRef("resolved_at"))),
        )
        .values_list("tier_id", "category_id", "assignee_id", "created_at", "resolved_at", "resolution_due_at",
                     "priority", "was_escalated", "waited", "reopened", "replied")
    ):
        bucket = at(resolved_at, tier_id, category_id, assignee_id)
        counts = bucket.counts
        counts["resolved"] += 1
        first_level = tier_id == first_tier and not escalated
        counts["flr"] += first_level
        counts["fcr"] += first_level and not (waited or reopened or replied)
        if due is not None:
            counts["with_due"] += 1
            counts["in_time"] += resolved_at <= due
        bucket.durations["ttr"].append(micro(resolved_at - created_at))
        business = business_micro(created_at, resolved_at, tier_id, priority)
        if business is not None:
            bucket.durations["ttr_business"].append(business)

    for tier_id, category_id, assignee_id, closed_at, rating in tickets.filter(
        in_ranges("closed_at", ranges), csat_rating__isnull=False
    ).values_list("tier_id", "category_id", "assignee_id", "closed_at", "csat_rating"):
        counts = at(closed_at, tier_id, category_id, assignee_id).counts
        counts["rated"] += 1
        counts["rating_sum"] += rating
        counts["satisfied"] += rating >= 4

    events = scope.events().filter(in_ranges("at", ranges))
    for name, chosen in (
        ("reopens", events.filter(kind=EventKind.REOPENED)),
        ("defects", events.filter(kind=EventKind.DE_ESCALATED, data__defect=True)),
    ):
        for tier_id, category_id, assignee_id, moment in chosen.values_list(
            "ticket__tier_id", "ticket__category_id", "ticket__assignee_id", "at"
        ):
            at(moment, tier_id, category_id, assignee_id).counts[name] += 1
    return facts
