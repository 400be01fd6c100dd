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


def search_tickets(queryset, text: str):
    """Tickets matching `text`: PostgreSQL full-text search, or a case-insensitive match on other databases."""
    from django.contrib.postgres.search import SearchQuery, SearchVector
    from django.db import connection
    from django.db.models import Q

    text = (text or "").strip()[:200]
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        vector = SearchVector("subject", "description", config="simple")
        return queryset.annotate(_search=vector).filter(_search=SearchQuery(text, config="simple", search_type="websearch"))
    return queryset.filter(Q(subject__icontains=text) | Q(description__icontains=text))
