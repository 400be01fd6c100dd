"""The dashboard's "by tag" breakdown, read live from tickets and their tags.

Tags are free and many, and a ticket may carry several, so they are not a dimension of the daily rollups: the
breakdown reads the period's tagged tickets directly, in two queries whatever the number of tags or tickets.
A ticket with two tags counts once under each. The numbers follow PRODUCT.md's definitions: *created* are the
tickets created in the period, *resolved* those now resolved or closed whose last resolution falls in it, and
the median time to resolve is over the resolved ones (calendar seconds, continuous percentile).
"""
from collections import defaultdict

from metrics.facts import DONE, Scope
from metrics.percentiles import interpolate
from tickets.tags import TicketTag


def _median(values: list) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return interpolate(len(ordered), 0.5, ordered.__getitem__)


def tag_breakdown(*, start, end, tier=None, category=None, agent=None) -> list[dict]:
    """One row per tag used in the period: key (the name), created, resolved, ttr_median (seconds or None);
    the busiest tags first. Tier, category and agent narrow the tickets as everywhere on the dashboard."""
    tickets = Scope(tier=tier, category=category, agent=agent).tickets()
    created = defaultdict(int)
    for name in TicketTag.objects.filter(
        ticket__in=tickets.filter(created_at__gte=start, created_at__lt=end).values("pk")
    ).values_list("tag__name", flat=True):
        created[name] += 1
    durations = defaultdict(list)
    for name, created_at, resolved_at in TicketTag.objects.filter(
        ticket__in=tickets.filter(resolved_at__gte=start, resolved_at__lt=end, status__in=DONE).values("pk")
    ).values_list("tag__name", "ticket__created_at", "ticket__resolved_at"):
        durations[name].append((resolved_at - created_at).total_seconds())
    rows = [
        {"key": name, "created": created.get(name, 0), "resolved": len(durations.get(name, ())),
         "ttr_median": _median(durations.get(name, []))}
        for name in set(created) | set(durations)
    ]
    return sorted(rows, key=lambda row: (-row["created"], -row["resolved"], row["key"]))
