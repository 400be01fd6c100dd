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
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef

from knowledge.models import Article, Deflection, SuggestionUse
from metrics.facts import Scope
from metrics.percentiles import stats_of
from tickets.workflow import Status

DONE = (Status.RESOLVED, Status.CLOSED)
TOP_ARTICLES = 5


def knowledge_summary(*, start, end, tier=None, category=None, agent=None) -> dict:
    scope = Scope(tier, category, agent)
    tickets = scope.tickets()
    uses = SuggestionUse.objects.filter(at__gte=start, at__lt=end, ticket__in=tickets)
    counted = uses.aggregate(uses=Count("id"), tickets=Count("ticket", distinct=True))
    resolved = tickets.filter(status__in=DONE, resolved_at__gte=start, resolved_at__lt=end)
    article_uses = (
        SuggestionUse.objects.filter(ticket__in=resolved, article__isnull=False)
        .values("ticket", "article").distinct().count()
    )
    split = _time_to_resolve_split(resolved)
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


def _time_to_resolve_split(resolved) -> dict:
    """{True: stats of tickets that used a suggestion, False: of the others}, each {count, median, mean}."""
    annotated = resolved.annotate(used=Exists(SuggestionUse.objects.filter(ticket=OuterRef("pk"))))
    empty = {"count": 0, "median": None, "mean": None}
    result = {True: dict(empty), False: dict(empty)}
    if connection.vendor == "postgresql":
        sql, params = annotated.annotate(took=F("resolved_at") - F("created_at")).values("used", "took").query \
            .sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT used, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM took)), "
                f"avg(extract(epoch FROM took)) FROM ({sql}) s GROUP BY used",
                params,
            )
            for used, count, median, mean in cursor.fetchall():
                result[bool(used)] = {"count": count, "median": float(median), "mean": float(mean)}
        return result
    values = {True: [], False: []}
    for used, created_at, resolved_at in annotated.values_list("used", "created_at", "resolved_at"):
        values[bool(used)].append((resolved_at - created_at).total_seconds())
    for used, seconds in values.items():
        stats = stats_of(seconds)
        if stats:
            result[used] = {"count": stats["n"], "median": stats[0.5], "mean": stats["sum"] / stats["n"]}
    return result
