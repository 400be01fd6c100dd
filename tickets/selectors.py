"""Named reads shared by pages, the API and metrics."""
from django.db.models import Count

from tickets.policy import tickets_visible_to
from tickets.workflow import OPEN_STATUSES


def open_counts_by_tier(*, user) -> list[dict]:
    """Open tickets per tier and status that `user` may see, as rows {tier__code, status, n} (one query)."""
    return list(
        tickets_visible_to(user)
        .filter(status__in=OPEN_STATUSES)
        .values("tier__code", "tier__level", "status")
        .annotate(n=Count("id"))
        .order_by("tier__level", "status")
    )
