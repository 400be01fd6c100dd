"""Named reads shared by pages, the API and metrics."""
from tickets import backlog
from tickets.policy import sees_tickets
from tickets.workflow import OPEN_STATUSES


def tier_summary(*, user) -> list[dict]:
    """Open tickets per tier and status that `user` may see, marking the user's own tiers."""
    from tiers.models import Tier
    from tiers.roles import tier_ids_of

    # Kept by the services as tickets move (tickets.backlog): counting the open backlog itself took 22-35 ms
    # per page at 1M tickets, even from an index alone.
    counts = backlog.counts() if sees_tickets(user) else {}
    mine = tier_ids_of(user)
    return [
        {
            "tier": tier,
            "cells": [counts.get((tier.pk, status), 0) for status in OPEN_STATUSES],
            "total": sum(counts.get((tier.pk, status), 0) for status in OPEN_STATUSES),
            "mine": tier.pk in mine,
        }
        for tier in Tier.objects.order_by("level")
    ]


def search_tickets(queryset, text: str):
    """Tickets whose subject, description or comments match `text`.

    PostgreSQL: full-text search with the GIN index on to_tsvector('simple',
    COALESCE(search_text, '')) — the expression SearchVector produces (migration
    0013; it must stay identical for the index to be used, which the benchmark
    guard in tests/bench checks). Other databases: a case-insensitive substring
    match.
    """
    from django.contrib.postgres.search import SearchQuery, SearchVector
    from django.db import connection

    text = (text or "").strip()[:200]
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        vector = SearchVector("search_text", config="simple")
        query = SearchQuery(text, config="simple", search_type="websearch")
        return queryset.annotate(_search=vector).filter(_search=query)
    return queryset.filter(search_text__icontains=text)
