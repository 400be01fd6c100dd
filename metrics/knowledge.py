"""How knowledge is used, for a period `[start, end)` and the same scope as the other metrics (the tickets'
current tier, category and assignee):

- **suggestions used**: uses recorded in the period (an earlier fix or an article linked or pasted);
- **tickets with a suggestion**: distinct tickets those uses were on;
- **articles per resolution**: for tickets resolved in the period (as in PRODUCT.md), the distinct articles
  used on them ÷ those tickets;
- **deflected contacts**: customers who said a public article solved their problem, in the period (scoped by
  the article's category; with a tier or agent filter there is no answer, since a deflection has neither);
- **time to resolve with / without a suggestion**: the tickets resolved in the period split by whether any
  suggestion was used on them; count, median and mean in calendar seconds.
"""
from django.db.models import Count

from knowledge.models import Article, Deflection, SuggestionUse
from metrics import percentiles
from metrics.facts import Scope, micro
from metrics.selectors import MICROSECONDS, Reading, raw_duration_stats
from tickets.workflow import Status

DONE = (Status.RESOLVED, Status.CLOSED)
TOP_ARTICLES = 5


def knowledge_summary(*, start, end, tier=None, category=None, agent=None, reading: Reading | None = None) -> dict:
    """The figures above; `reading`, the same period and scope already read for the other metrics (the
    dashboard's), spares reading its live facts again."""
    scope = Scope(tier, category, agent)
    tickets = scope.tickets()
    uses = SuggestionUse.objects.filter(at__gte=start, at__lt=end, ticket__in=tickets)
    counted = uses.aggregate(uses=Count("id"), tickets=Count("ticket", distinct=True))
    resolved = tickets.filter(status__in=DONE, resolved_at__gte=start, resolved_at__lt=end)
    article_uses = (
        SuggestionUse.objects.filter(ticket__in=resolved, article__isnull=False)
        .values("ticket", "article").distinct().count()
    )
    reading = reading or Reading(start=start, end=end, tier=tier, category=category, agent=agent,
                                 durations=("ttr",), flow=False)
    split = _time_to_resolve_split(resolved, reading)
    resolved_count = split[True]["count"] + split[False]["count"]
    if tier is None and agent is None:
        deflections = Deflection.objects.filter(at__gte=start, at__lt=end)
        if category is not None:
            deflections = deflections.filter(article__category=category)
        deflected = deflections.count()
    else:
        deflected = None
    top = list(
        Article.objects.filter(uses__in=uses)
        .annotate(used=Count("uses")).order_by("-used", "title").values("id", "title", "used")[:TOP_ARTICLES]
    )
    return {
        "suggestions_used": counted["uses"],
        "tickets_with_suggestions": counted["tickets"],
        "resolved": resolved_count,
        "articles_per_resolution": article_uses / resolved_count if resolved_count else None,
        "deflected_contacts": deflected,
        "time_to_resolve_with_suggestion": split[True],
        "time_to_resolve_without_suggestion": split[False],
        "top_articles": top,
    }


def _time_to_resolve_split(resolved, reading: Reading) -> dict:
    """{True: the tickets resolved in the period that used a suggestion, False: the others}, each {count,
    median, mean} in seconds.

    The first are few: read live. The others are every ticket resolved in the period less those, which the
    metrics' rollups give without sorting a year of durations (`raw_duration_stats` with `minus`)."""
    used = resolved.filter(pk__in=SuggestionUse.objects.values("ticket_id")).values_list("created_at", "resolved_at")
    with_suggestion = [micro(resolved_at - created_at) for created_at, resolved_at in used]
    live = {key: facts.durations["ttr"] for key, facts in reading.live("none").items() if facts.durations["ttr"]}
    others = raw_duration_stats(reading.plan, reading.scope, "none", "ttr", live,
                                minus={None: with_suggestion}).get(None)
    return {True: _seconds_of(percentiles.stats_of(with_suggestion)), False: _seconds_of(others)}


def _seconds_of(stats: dict | None) -> dict:
    if not stats or not stats["n"]:
        return {"count": 0, "median": None, "mean": None}
    return {"count": stats["n"], "median": stats[0.5] / MICROSECONDS, "mean": stats["sum"] / stats["n"] / MICROSECONDS}
