"""Metrics computed in the database from tickets and their events.

Every function follows the definitions of PRODUCT.md ("Metric definitions")
for a period [start, end). Filters (tier, category, agent) select tickets by
their current tier, category and assignee. Percentiles are continuous (linear
interpolation): `percentile_cont` on PostgreSQL, the same formula in Python
elsewhere. Rates are fractions 0–1 and durations seconds; None where a metric
is undefined (nothing to divide by).
"""
from django.db import connection
from django.db.models import Aggregate, Avg, Count, Exists, F, FloatField, OuterRef, Q
from django.db.models.functions import Extract

from tickets.models import Event, Ticket
from tickets.workflow import OPEN_STATUSES, EventKind, Status
from tiers.models import Tier
from tiers.selectors import sla_policy_for
from tiers.sla import business_seconds_between

DONE = (Status.RESOLVED, Status.CLOSED)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an expression."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


def percentile(values: list[float], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation (what percentile_cont computes)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def tickets_for(*, tier=None, category=None, agent=None):
    tickets = Ticket.objects.all()
    if tier is not None:
        tickets = tickets.filter(tier=tier)
    if category is not None:
        tickets = tickets.filter(category=category)
    if agent is not None:
        tickets = tickets.filter(assignee=agent)
    return tickets


def _had(kind, **extra):
    return Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=kind, **extra))


def duration_stats(tickets, end_field: str, start_field: str = "created_at") -> dict:
    """Median, p90 and mean of `end_field − start_field` in seconds over `tickets`."""
    seconds = Extract(F(end_field) - F(start_field), "epoch") if connection.vendor == "postgresql" else None
    if seconds is not None:
        row = tickets.aggregate(
            median=PercentileCont(seconds, 0.5), p90=PercentileCont(seconds, 0.9), mean=Avg(seconds)
        )
        return {key: (float(value) if value is not None else None) for key, value in row.items()}
    values = [
        (end - start).total_seconds() for start, end in tickets.values_list(start_field, end_field)
    ]
    return {
        "median": percentile(values, 0.5),
        "p90": percentile(values, 0.9),
        "mean": sum(values) / len(values) if values else None,
    }


def business_median(tickets) -> float | None:
    """Median business seconds from creation to resolution, each in its tier and priority's calendar."""
    values = []
    for created, resolved, tier_id, priority in tickets.values_list("created_at", "resolved_at", "tier_id",
                                                                     "priority"):
        found = sla_policy_for(tier_id, priority)
        if found is None:
            continue
        values.append(business_seconds_between(created, resolved, found[1]))
    return percentile(values, 0.5)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summary(*, start, end, tier=None, category=None, agent=None) -> dict:
    tickets = tickets_for(tier=tier, category=category, agent=agent)
    created = tickets.filter(created_at__gte=start, created_at__lt=end)
    resolved = tickets.filter(status__in=DONE, resolved_at__gte=start, resolved_at__lt=end)
    l1 = Tier.objects.order_by("level").first()

    created_counts = created.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status__in=DONE)),
        repeats=Count("id", filter=Q(repeat_of__isnull=False)),
        escalated=Count("id", filter=Q(Exists(Event.objects.filter(ticket=OuterRef("pk"),
                                                                   kind=EventKind.ESCALATED)))),
        responded=Count("id", filter=Q(first_response_at__isnull=False, response_due_at__isnull=False)),
        responded_in_time=Count("id", filter=Q(first_response_at__isnull=False, response_due_at__isnull=False,
                                               first_response_at__lte=F("response_due_at"))),
    )
    total = created_counts["total"]
    reopens = Event.objects.filter(ticket__in=tickets, kind=EventKind.REOPENED, at__gte=start, at__lt=end).count()
    repeat_contacts = created_counts["repeats"] + reopens

    never_escalated = ~Q(_had(EventKind.ESCALATED))
    resolved_counts = resolved.aggregate(
        total=Count("id"),
        flr=Count("id", filter=never_escalated & Q(tier=l1)),
        fcr=Count(
            "id",
            filter=never_escalated
            & Q(tier=l1)
            & ~Q(_had(EventKind.WAITING))
            & ~Q(_had(EventKind.REOPENED))
            & ~Q(Exists(Event.objects.filter(ticket=OuterRef("pk"), kind=EventKind.COMMENTED,
                                             actor_role="customer", at__lt=OuterRef("resolved_at")))),
        ),
        with_due=Count("id", filter=Q(resolution_due_at__isnull=False)),
        in_time=Count("id", filter=Q(resolution_due_at__isnull=False, resolved_at__lte=F("resolution_due_at"))),
    )
    rated = tickets.filter(closed_at__gte=start, closed_at__lt=end, csat_rating__isnull=False).aggregate(
        count=Count("id"), mean=Avg("csat_rating"), satisfied=Count("id", filter=Q(csat_rating__gte=4))
    )
    defects = Event.objects.filter(
        ticket__in=tickets, kind=EventKind.DE_ESCALATED, at__gte=start, at__lt=end, data__defect=True
    ).count()
    time_to_resolve = duration_stats(resolved, "resolved_at")
    response = duration_stats(created.filter(first_response_at__isnull=False), "first_response_at")
    return {
        "created": total,
        "resolution_rate": ratio(created_counts["done"], total),
        "time_to_resolve": {**time_to_resolve, "business_median": business_median(resolved)},
        "first_response": {"median": response["median"], "p90": response["p90"]},
        "repeat_contacts": repeat_contacts,
        "repeat_contact_rate": ratio(repeat_contacts, total),
        "flr_rate": ratio(resolved_counts["flr"], resolved_counts["total"]),
        "fcr_rate": ratio(resolved_counts["fcr"], resolved_counts["total"]),
        "escalation_rate": ratio(created_counts["escalated"], total),
        "escalation_defects": defects,
        "sla_compliance": {
            "resolution": ratio(resolved_counts["in_time"], resolved_counts["with_due"]),
            "response": ratio(created_counts["responded_in_time"], created_counts["responded"]),
        },
        "csat": {
            "mean": float(rated["mean"]) if rated["mean"] is not None else None,
            "share_satisfied": ratio(rated["satisfied"], rated["count"]),
            "count": rated["count"],
        },
        "backlog": backlog(tickets),
    }


def backlog(tickets) -> dict:
    """Open tickets now, by tier and by status (one query)."""
    rows = (
        tickets.filter(status__in=OPEN_STATUSES)
        .values("tier__code", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_tier, by_status, total = {}, {}, 0
    for row in rows:
        by_tier[row["tier__code"]] = by_tier.get(row["tier__code"], 0) + row["n"]
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        total += row["n"]
    return {"total": total, "by_tier": by_tier, "by_status": by_status}
