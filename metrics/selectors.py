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


# --- breakdowns and trends ------------------------------------------------------

BREAKDOWNS = ("tier", "category", "agent")


def breakdown(*, start, end, by: str, tier=None, category=None, agent=None) -> list[dict]:
    """The main metrics per tier, category or agent (one summary per group: queries grow with groups, not tickets)."""
    from django.contrib.auth import get_user_model

    from tickets.models import Category

    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}")
    if by == "tier":
        groups = [(t.code, f"{t.code} {t.name}", {"tier": t}) for t in Tier.objects.order_by("level")]
    elif by == "category":
        groups = [(c.slug, c.name, {"category": c}) for c in Category.objects.order_by("name")]
    else:
        users = get_user_model().objects.filter(tier_memberships__isnull=False).distinct().order_by("username")
        groups = [(u.username, u.get_full_name() or u.username, {"agent": u}) for u in users]
    filters = {"tier": tier, "category": category, "agent": agent}
    rows = []
    for key, label, group in groups:
        metrics = summary(start=start, end=end, **{**filters, **group})
        rows.append(
            {
                "key": key,
                "label": label,
                "created": metrics["created"],
                "resolution_rate": metrics["resolution_rate"],
                "ttr_median": metrics["time_to_resolve"]["median"],
                "ttr_p90": metrics["time_to_resolve"]["p90"],
                "repeat_contact_rate": metrics["repeat_contact_rate"],
                "escalation_rate": metrics["escalation_rate"],
                "fcr_rate": metrics["fcr_rate"],
                "sla_resolution": metrics["sla_compliance"]["resolution"],
                "csat_mean": metrics["csat"]["mean"],
            }
        )
    return rows


def weakest(rows: list[dict], metric: str, n: int = 5) -> list[dict]:
    """The n worst rows for a metric where higher is worse (repeat contacts, time to resolve)."""
    # Only rows with something to improve: nothing undefined, nothing at zero.
    return sorted((r for r in rows if r.get(metric)), key=lambda r: r[metric], reverse=True)[:n]


def trend(*, start, end, step: str = "day", tier=None, category=None, agent=None) -> list[dict]:
    """Created, resolved, median time to resolve and repeat contacts per day or week, in three queries."""
    from datetime import datetime, time, timedelta

    from django.db.models.functions import TruncDay, TruncWeek
    from django.utils import timezone

    trunc = {"day": TruncDay, "week": TruncWeek}[step]
    tickets = tickets_for(tier=tier, category=category, agent=agent)
    in_period = tickets.filter(created_at__gte=start, created_at__lt=end).annotate(period=trunc("created_at"))
    created, repeats = {}, {}
    for period, n, repeated in in_period.values("period").annotate(
        n=Count("id"), repeated=Count("id", filter=Q(repeat_of__isnull=False))
    ).values_list("period", "n", "repeated"):
        created[timezone.localtime(period).date()] = n
        repeats[timezone.localtime(period).date()] = repeated
    # Repeat contacts are repeat tickets plus reopens, counted on the day of the reopen.
    for period, n in (
        Event.objects.filter(ticket__in=tickets, kind=EventKind.REOPENED, at__gte=start, at__lt=end)
        .annotate(period=trunc("at")).values("period").annotate(n=Count("id")).values_list("period", "n")
    ):
        day = timezone.localtime(period).date()
        repeats[day] = repeats.get(day, 0) + n
    durations: dict = {}
    for period, created_at, resolved_at in (
        tickets.filter(status__in=DONE, resolved_at__gte=start, resolved_at__lt=end)
        .annotate(period=trunc("resolved_at"))
        .values_list("period", "created_at", "resolved_at")
    ):
        durations.setdefault(timezone.localtime(period).date(), []).append((resolved_at - created_at).total_seconds())
    day = timezone.localtime(start).date()
    if step == "week":
        day -= timedelta(days=day.weekday())
    rows = []
    # One row per bucket that starts before the end of the period.
    while timezone.make_aware(datetime.combine(day, time.min)) < end:
        values = durations.get(day, [])
        rows.append({"period": day, "created": created.get(day, 0), "resolved": len(values),
                     "ttr_median": percentile(values, 0.5), "repeat_contacts": repeats.get(day, 0)})
        day += timedelta(days=1 if step == "day" else 7)
    return rows


def backlog_by_age(tickets=None) -> dict:
    """Open tickets by how long ago they were opened."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    tickets = (tickets if tickets is not None else Ticket.objects.all()).filter(status__in=OPEN_STATUSES)
    day = timedelta(days=1)
    return tickets.aggregate(
        **{
            "<1d": Count("id", filter=Q(created_at__gt=now - day)),
            "1-3d": Count("id", filter=Q(created_at__lte=now - day, created_at__gt=now - 3 * day)),
            "3-7d": Count("id", filter=Q(created_at__lte=now - 3 * day, created_at__gt=now - 7 * day)),
            ">7d": Count("id", filter=Q(created_at__lte=now - 7 * day)),
        }
    )
