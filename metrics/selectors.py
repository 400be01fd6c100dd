"""Metrics computed in the database from tickets and their events.

The shape of `summary` is the API contract (PRODUCT.md, "Metric
definitions"). Metrics not computed yet are None.
"""
from django.db.models import Count

from tickets.models import Ticket
from tickets.workflow import OPEN_STATUSES


def summary(*, start, end, tier=None, category=None, agent=None) -> dict:
    tickets = Ticket.objects.all()
    if tier is not None:
        tickets = tickets.filter(tier=tier)
    if category is not None:
        tickets = tickets.filter(category=category)
    if agent is not None:
        tickets = tickets.filter(assignee=agent)
    created = tickets.filter(created_at__gte=start, created_at__lt=end).count()
    return {
        "created": created,
        "resolution_rate": None,
        "time_to_resolve": {"median": None, "p90": None, "mean": None, "business_median": None},
        "first_response": {"median": None, "p90": None},
        "repeat_contacts": None,
        "repeat_contact_rate": None,
        "flr_rate": None,
        "fcr_rate": None,
        "escalation_rate": None,
        "escalation_defects": None,
        "sla_compliance": {"resolution": None, "response": None},
        "csat": {"mean": None, "share_satisfied": None, "count": None},
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
