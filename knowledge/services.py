"""The only code that writes the knowledge base: articles and their revisions, suggestions used, deflections.

Refusals raise `tickets.exceptions.TicketError`, which the desk, the portal and the API already map to HTTP
statuses (400 invalid input, 403 forbidden, 404 unknown, 409 stale version).
"""
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge.models import TAG_SEPARATOR, Article, Deflection, Revision, SuggestionUse, Tag, Use, Visibility
from tickets import services as ticket_services
from tickets.exceptions import TicketError
from tickets.models import Category, Ticket
from tickets.policy import Actor, tickets_visible_to
from tickets.workflow import Status
from tiers.roles import staff_role

TITLE_MAX = 200
TAG_MAX = 50
TAGS_MAX = 10
# What a revision compares, in the order the history names changes.
TRACKED = ("title", "problem", "solution", "category_name", "tag_names", "visibility", "language", "archived")


@dataclass(frozen=True)
class ArticleInput:
    title: str
    problem: str
    solution: str
    category: Category | None = None
    tags: tuple[str, ...] = ()
    visibility: str = Visibility.INTERNAL
    language: str = ""
    archived: bool = False


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags from what an agent typed ("vpn, Windows 11; dock"): lower-case, distinct, in order."""
    seen = []
    for part in (text or "").replace(";", ",").split(","):
        name = " ".join(part.split()).lower()
        if name and name not in seen:
            seen.append(name)
    return tuple(seen)


def _check(data: ArticleInput) -> ArticleInput:
    title = " ".join((data.title or "").split())
    problem, solution = (data.problem or "").strip(), (data.solution or "").strip()
    errors = {}
    if not title or len(title) > TITLE_MAX:
        errors["title"] = _("A title of 1 to %(max)d characters is required.") % {"max": TITLE_MAX}
    if not problem:
        errors["problem"] = _("Describe the problem.")
    if not solution:
        errors["solution"] = _("Describe the solution.")
    if data.visibility not in Visibility.values:
        errors["visibility"] = _("Unknown visibility.")
    if data.language and data.language not in dict(settings.LANGUAGES):
        errors["language"] = _("Unknown language.")
    if len(data.tags) > TAGS_MAX or any(len(tag) > TAG_MAX for tag in data.tags):
        errors["tags"] = _("At most %(count)d tags of up to %(max)d characters each.") % {
            "count": TAGS_MAX, "max": TAG_MAX}
    if errors:
        raise TicketError(TicketError.INVALID, " ".join(str(e) for e in errors.values()), fields=list(errors))
    return ArticleInput(title, problem, solution, data.category, tuple(data.tags), data.visibility, data.language,
                        bool(data.archived))


def _require_staff(user) -> None:
    if staff_role(user) is None:
        raise TicketError(TicketError.FORBIDDEN, _("Only agents and managers can write articles."))


@transaction.atomic
def article_save(*, user, data: ArticleInput, article_id: int | None = None, version: int | None = None,
                 source_ticket: Ticket | None = None) -> Article:
    """Create an article (no `article_id`) or change one; either way a revision records who changed what.

    An edit names the `version` it was made on; if someone saved in between, it is refused as stale rather
    than overwriting their change.
    """
    _require_staff(user)
    data = _check(data)
    now = timezone.now()
    if article_id is None:
        article = Article(author=user, created_at=now, source_ticket=source_ticket, version=0)
        before = None
    else:
        try:
            article = Article.objects.select_for_update(of=("self",)).select_related("category").get(pk=article_id)
        except (Article.DoesNotExist, ValueError, TypeError):
            raise TicketError(TicketError.NOT_FOUND, _("No such article.")) from None
        if version is not None and version != article.version:
            raise TicketError(
                TicketError.STALE_VERSION,
                _("This article was changed by someone else (version %(current)d, you had %(yours)d). "
                  "Reload it and try again.") % {"current": article.version, "yours": version},
            )
        before = _snapshot(article, article.tag_names)
    for name in ("title", "problem", "solution", "category", "visibility", "language", "archived"):
        setattr(article, name, getattr(data, name))
    article.tag_names = TAG_SEPARATOR.join(data.tags)
    after = _snapshot(article, article.tag_names)
    changed = [name for name in TRACKED if before is None or before[name] != after[name]]
    if before is not None and not changed:
        return article
    article.updated_by = user
    article.updated_at = now
    article.version += 1
    article.save()
    article.tags.set([Tag.objects.get_or_create(name=name)[0] for name in data.tags])
    Revision.objects.create(article=article, version=article.version, editor=user, at=now,
                            changed=changed, **after)
    return article


def _snapshot(article: Article, tag_names: str) -> dict:
    return {
        "title": article.title,
        "problem": article.problem,
        "solution": article.solution,
        "category_name": article.category.name if article.category_id else "",
        "tag_names": tag_names,
        "visibility": article.visibility,
        "language": article.language,
        "archived": article.archived,
    }


@transaction.atomic
def article_from_ticket(*, user, ticket_id: int) -> tuple[Article, bool]:
    """Turn a resolved ticket's diagnosis and resolution into an internal article, in one step.

    Returns the article and whether it is new: a ticket already published gives its existing article.
    """
    _require_staff(user)
    ticket = tickets_visible_to(user).select_related("category").filter(pk=ticket_id).first()
    if ticket is None:
        raise TicketError(TicketError.NOT_FOUND, _("No such ticket."))
    existing = Article.objects.filter(source_ticket=ticket).order_by("id").first()
    if existing is not None:
        return existing, False
    if ticket.status not in (Status.RESOLVED, Status.CLOSED) or not ticket.resolution_summary.strip():
        raise TicketError(TicketError.ILLEGAL_TRANSITION,
                          _("Only a resolved ticket with a resolution summary can become an article."))
    problem = [ticket.description.strip()]
    if ticket.affected_item:
        problem.append(_("Affected item: %(item)s") % {"item": ticket.affected_item})
    if ticket.steps_before:
        problem.append(_("Steps before the fault:") + "\n\n" + ticket.steps_before.strip())
    if ticket.findings:
        problem.append(_("Findings:") + "\n\n" + ticket.findings.strip())
    article = article_save(
        user=user,
        source_ticket=ticket,
        data=ArticleInput(
            title=ticket.subject,
            problem="\n\n".join(problem),
            solution=ticket.resolution_summary,
            category=ticket.category,
            visibility=Visibility.INTERNAL,
        ),
    )
    return article, True


@transaction.atomic
def suggestion_use(*, actor: Actor, ticket_id: int, how: str, article_id: int | None = None,
                   solved_ticket_id: int | None = None) -> SuggestionUse:
    """Record that an agent used a suggestion on a ticket: an article or an earlier resolved ticket, linked to
    the ticket or pasted into a reply. Appears on the ticket's timeline; counted by the metrics."""
    if how not in Use.values:
        raise TicketError(TicketError.INVALID, _("Unknown use."), fields=["how"])
    if (article_id is None) == (solved_ticket_id is None):
        raise TicketError(TicketError.INVALID, _("Name either an article or an earlier ticket."))
    if article_id is not None:
        article = Article.objects.filter(pk=article_id, archived=False).first()
        if article is None:
            raise TicketError(TicketError.NOT_FOUND, _("No such article."))
        data = {"article_id": article.pk, "title": article.title, "how": how}
        solved = None
    else:
        solved = tickets_visible_to(actor.user).filter(
            pk=solved_ticket_id, status__in=(Status.RESOLVED, Status.CLOSED)).first()
        if solved is None or solved.pk == int(ticket_id):
            raise TicketError(TicketError.NOT_FOUND, _("No such resolved ticket."))
        article = None
        data = {"ticket_id": solved.pk, "reference": solved.reference, "how": how}
    event = ticket_services.suggestion_record(actor=actor, ticket_id=ticket_id, data=data)
    return SuggestionUse.objects.create(ticket_id=event.ticket_id, article=article, solved_ticket=solved, how=how,
                                        actor=actor.user, at=event.at)


def deflect(*, article_id: int, query: str = "", language: str = "") -> Deflection:
    """A customer read a public article and says it solved their problem: no ticket needed."""
    article = Article.objects.filter(pk=article_id, visibility=Visibility.PUBLIC, archived=False).first()
    if article is None:
        raise TicketError(TicketError.NOT_FOUND, _("No such article."))
    return Deflection.objects.create(article=article, query=" ".join((query or "").split())[:200],
                                     language=(language or "")[:8])
