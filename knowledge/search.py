"""Finding earlier fixes and articles that match a problem: one SQL query per kind.

On PostgreSQL both tickets and articles carry a stored, weighted full-text vector (subject or title first,
then diagnosis, resolution or problem, then the rest; migrations `tickets.0012` and `knowledge.0002`;
the `tierdesk` configuration stems English and Russian and keeps stop words to the application),
indexed with GIN over resolved tickets and over articles. A problem is reduced to its key words
(`tickets.similarity.key_words`), and the query asks, in order, for the rows that contain all of them, then
exactly all but one of them, and so on down to two — each step ranked by `ts_rank_cd`, reading at most
STEP_CANDIDATES rows. The steps are the branches of one `UNION ALL` under a `LIMIT`, and PostgreSQL runs a
branch only while the earlier ones have not filled the limit: the common case reads the few rows that share
most words and never ranks the many that share fewer. Short subjects add a step by trigram similarity (typos, word forms
the stemmer does not join), and a last step takes any row sharing a single word.

Other databases (SQLite in the embedded mode) get the same answers' shape from a simple scan of the
newest candidates containing a key word, scored in Python.
"""
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from django.db import connection
from django.db.models import Q

from knowledge.models import Article, Visibility
from tickets import similarity
from tickets.models import Ticket, format_reference
from tickets.workflow import Status

KEY_WORDS = 6
# The trigram step is for subjects this short (two words or more: one word is as long as no string it could be
# similar to).
SHORT_SUBJECT = 3
# Rows a step reads and ranks at most.
STEP_CANDIDATES = 1000
# The fallback scores at most this many of the newest candidates.
FALLBACK_CANDIDATES = 300
DONE = (Status.RESOLVED, Status.CLOSED)


@dataclass(frozen=True)
class Match:
    """One suggestion: an earlier resolved ticket or an article, and how well it matched."""

    kind: str  # "ticket" or "article"
    pk: int
    title: str
    text: str  # the resolution summary, or the article's solution (Markdown)
    category: str
    when: datetime | None  # resolved at, or last updated
    matched: int  # how many of the key words it contains (0: found by trigram similarity)
    asked: int  # how many key words were asked for
    score: float
    public: bool = False

    @property
    def reference(self) -> str:
        return format_reference(self.pk) if self.kind == "ticket" else ""

    @property
    def share(self) -> int:
        """The match as a percentage: the share of key words found, or the trigram similarity."""
        if self.matched:
            return round(100 * self.matched / self.asked) if self.asked else 0
        return round(100 * self.score)


def ticket_words(ticket: Ticket) -> list[str]:
    """The key words of a ticket's problem: its subject first, then the diagnosis and the description."""
    return similarity.key_words(
        ticket.subject, f"{ticket.affected_item}\n{ticket.findings}", ticket.description, limit=KEY_WORDS
    )


def similar_tickets(ticket: Ticket, *, limit: int = 5) -> list[Match]:
    """Resolved or closed tickets (with a resolution summary) most like `ticket`, best first. One query."""
    words = ticket_words(ticket)
    if not words:
        return []
    if connection.vendor == "postgresql":
        return _ranked(_TICKETS, words, limit, exclude=ticket.pk, subject=ticket.subject)
    return _fallback_tickets(ticket, words, limit)


def suggestions_for(ticket: Ticket, *, limit: int) -> tuple[list[Match], list[Match]]:
    """What the ticket page and the API suggest for a ticket: earlier fixes and articles (two queries)."""
    return (similar_tickets(ticket, limit=limit),
            matching_articles(ticket.subject, public_only=False, limit=limit, words=ticket_words(ticket)))


def matching_articles(text: str, *, public_only: bool, limit: int = 5, language: str = "",
                      words: list[str] | None = None) -> list[Match]:
    """Articles that match `text` (or the given key `words`), best first; archived ones never. One query.

    `public_only` keeps what customers may read: public articles in `language` or in no language."""
    words = words if words is not None else similarity.key_words(text, limit=KEY_WORDS)
    if not words:
        return []
    if connection.vendor == "postgresql":
        return _ranked(_ARTICLES, words, limit, public_only=public_only, language=language, subject=text)
    return _fallback_articles(words, limit, public_only=public_only, language=language)


def visible_articles(*, public_only: bool, language: str = ""):
    articles = Article.objects.filter(archived=False)
    if public_only:
        articles = articles.filter(visibility=Visibility.PUBLIC).filter(Q(language="") | Q(language=language))
    return articles


# --- PostgreSQL ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    kind: str
    columns: str  # id, title, text, category, when, public
    tables: str
    vector: str
    trigram: str
    where: str


_TICKETS = _Source(
    kind="ticket",
    columns="t.id, t.subject, t.resolution_summary, c.name, t.resolved_at, false",
    tables="tickets_ticket t LEFT JOIN tickets_category c ON c.id = t.category_id",
    vector="t.similar_vector",
    trigram="t.subject",
    # The partial indexes ticket_similar_gin and ticket_subject_trgm cover exactly these statuses.
    where="t.status IN ('resolved', 'closed') AND t.resolution_summary <> '' AND t.id <> %(exclude)s",
)
_ARTICLES = _Source(
    kind="article",
    columns="t.id, t.title, t.solution, c.name, t.updated_at, t.visibility = 'public'",
    tables="knowledge_article t LEFT JOIN tickets_category c ON c.id = t.category_id",
    vector="t.search_vector",
    trigram="t.title",
    where="NOT t.archived AND (NOT %(public_only)s OR (t.visibility = 'public' AND t.language IN ('', %(language)s)))",
)


def _any_of(groups) -> str:
    """A to_tsquery text: any of the groups, each group all of its words."""
    return " | ".join("(" + " & ".join(group) + ")" for group in groups)


def _ranked(source: _Source, words: list[str], limit: int, *, exclude: int = 0, public_only: bool = False,
            language: str = "", subject: str = "") -> list[Match]:
    params = {"exclude": exclude, "public_only": public_only, "language": language, "limit": limit,
              "cap": STEP_CANDIDATES, "subject": subject[:200]}
    for size in range(len(words), 0, -1):
        params[f"q{size}"] = _any_of(combinations(words, size))
    ctes, steps = [], []

    def step(matched: str, score: str, where: str, *, ranked: bool = True) -> None:
        # Each step's rows come from a MATERIALIZED CTE: PostgreSQL plans it on its own, without the LIMITs
        # around it, so it reads the step's rows through the index (under a LIMIT the planner would rather scan
        # the table and hope to meet matches early — a second lost when the words are rarer than it thinks),
        # and runs it only as far as the step asks. At most STEP_CANDIDATES rows of a step are read and scored,
        # so a step of common words costs a bounded time (its candidates are then the first the index gives).
        # The SQL here is formatted only from this module's own fragments (_TICKETS, _ARTICLES and what is built
        # from them); every word of the ticket is a parameter.
        name = f"step{len(steps)}"
        ctes.append(
            f"{name} AS MATERIALIZED (SELECT {source.columns}, "  # noqa: S608 - our fragments  # nosec B608
            f"{matched} AS matched, {score} AS score, {len(steps)} AS step "
            f"FROM {source.tables} WHERE {source.where} AND {where})"
        )
        order = "ORDER BY c.score DESC " if ranked else ""
        steps.append(
            f"(SELECT * FROM (SELECT * FROM {name} LIMIT %(cap)s) c "  # noqa: S608 - our fragments  # nosec B608
            f"{order}LIMIT %(limit)s)"
        )

    def words_in(size: int) -> str:
        return f"{source.vector} @@ to_tsquery('tierdesk', %(q{size})s)"

    # Exactly `size` of the key words (at least `size`, not `size + 1`): the steps never overlap, so the first
    # step with enough rows ends the query.
    for size in range(len(words), 1, -1):
        fewer = f" AND NOT {words_in(size + 1)}" if size < len(words) else ""
        step(str(size), f"ts_rank_cd({source.vector}, to_tsquery('tierdesk', %(q{size})s))", words_in(size) + fewer)
    at_most_one = f" AND NOT {words_in(2)}" if len(words) > 1 else ""
    if 2 <= len(words) <= SHORT_SUBJECT and subject:
        step("0", f"similarity({source.trigram}, %(subject)s)", f"{source.trigram} %% %(subject)s{at_most_one}")
    # Sharing one word is the weakest hint: taken unranked.
    step("1", "0.0", words_in(1) + at_most_one, ranked=False)
    sql = (
        f"WITH {', '.join(ctes)} "  # noqa: S608 - our fragments  # nosec B608
        f"SELECT * FROM ({' UNION ALL '.join(steps)}) s LIMIT %(limit)s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    rows.sort(key=lambda row: (row[8], -row[7]))  # step, then score: the order the steps were run in
    found, seen = [], set()
    for pk, title, text, category, when, public, matched, score, _step in rows:
        if pk in seen:  # a row both similar by trigram and sharing one word
            continue
        seen.add(pk)
        found.append(Match(source.kind, pk, title, text, category or "", when, matched, len(words), float(score),
                           public))
    return found


# --- other databases ---------------------------------------------------------------------------------------


def _contains_any(fields: tuple[str, ...], words: list[str]) -> Q:
    """Rows with any key word's stem in any of `fields`. SQLite folds the case of ASCII letters only, so the
    lower-case, capitalised and upper-case forms are asked for ("эцп", "Эцп", "ЭЦП")."""
    condition = Q()
    for word in words:
        stem = similarity.stem(word)
        for field in fields:
            condition |= Q(**{f"{field}__icontains": stem})
            if not stem.isascii():
                condition |= Q(**{f"{field}__contains": stem.capitalize()}) | Q(**{f"{field}__contains": stem.upper()})
    return condition


def _scored(kind: str, candidates, words: list[str], limit: int, describe) -> list[Match]:
    wanted = {similarity.stem(word) for word in words}
    asked = similarity.profile(" ".join(words))
    results = []
    for row in candidates:
        title, text, body, when, public = describe(row)
        profile = similarity.profile(f"{title}\n{body}")
        matched = len(wanted & set(profile))
        if not matched:
            continue
        score = similarity.similarity(asked, similarity.profile(title)) + 0.5 * similarity.similarity(asked, profile)
        results.append(Match(kind, row.pk, title, text, row.category.name if row.category_id else "", when,
                             matched, len(words), score, public))
    results.sort(key=lambda m: (-m.matched, -m.score, -(m.when.timestamp() if m.when else 0)))
    return results[:limit]


def _fallback_tickets(ticket: Ticket, words: list[str], limit: int) -> list[Match]:
    candidates = (
        Ticket.objects.filter(status__in=DONE)
        .exclude(pk=ticket.pk)
        .exclude(resolution_summary="")
        .filter(_contains_any(("subject", "affected_item", "findings", "resolution_summary", "description"), words))
        .select_related("category")
        .only("pk", "subject", "description", "affected_item", "findings", "resolution_summary", "resolved_at",
              "category__name")
        .order_by("-resolved_at", "-id")[:FALLBACK_CANDIDATES]
    )
    return _scored("ticket", candidates, words, limit, lambda t: (
        t.subject, t.resolution_summary,
        f"{t.affected_item}\n{t.findings}\n{t.resolution_summary}\n{t.description[:2000]}", t.resolved_at, False))


def _fallback_articles(words: list[str], limit: int, *, public_only: bool, language: str) -> list[Match]:
    candidates = (
        visible_articles(public_only=public_only, language=language)
        .filter(_contains_any(("title", "tag_names", "problem", "solution"), words))
        .select_related("category")
        .order_by("-updated_at", "-id")[:FALLBACK_CANDIDATES]
    )
    return _scored("article", candidates, words, limit, lambda a: (
        a.title, a.solution, f"{a.tag_names}\n{a.problem}\n{a.solution}", a.updated_at,
        a.visibility == Visibility.PUBLIC))
