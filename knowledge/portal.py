"""The public knowledge base (`/support/kb/`): search, categories and articles for customers, and the
"this solved it" answer that counts a contact avoided. Only public, unarchived articles in the reader's
language (or in none) are ever shown here."""
from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET, require_POST

from knowledge import search, services
from knowledge.markdown import render as render_markdown
from tickets.exceptions import TicketError
from tickets.models import Category
from tickets.portal.views import limited

RESULTS = 20
# Articles offered under the report form while the customer types the subject.
DEFLECT_RESULTS = 3


def _public():
    return search.visible_articles(public_only=True, language=translation.get_language())


@require_GET
def index(request):
    """Search and browse: the matching articles for `q`, or a category's, or the latest ones."""
    text = request.GET.get("q", "").strip()[:200]
    slug = request.GET.get("category", "")
    categories = Category.objects.filter(is_active=True).annotate(
        public=Count("articles", filter=Q(articles__in=_public()))).filter(public__gt=0)
    category = next((c for c in categories if c.slug == slug), None)
    if text:
        articles = search.matching_articles(text, public_only=True, language=translation.get_language(),
                                            limit=RESULTS)
    else:
        queryset = _public().select_related("category")
        if category is not None:
            queryset = queryset.filter(category=category)
        articles = list(queryset.order_by("-updated_at", "-id")[:RESULTS])
    return render(request, "support/kb/index.html", {
        "q": text, "articles": articles, "categories": categories, "category": category, "searched": bool(text),
    })


@require_GET
def article(request, pk):
    found = _public().select_related("category").filter(pk=pk).first()
    if found is None:
        raise Http404
    return render(request, "support/kb/article.html", {
        "article": found,
        "problem_html": render_markdown(found.problem),
        "solution_html": render_markdown(found.solution),
        "q": request.GET.get("q", "")[:200],
    })


@require_GET
def suggest(request):
    """What the report form shows under the subject as the customer types: a few public articles (HTML)."""
    text = request.GET.get("q", "").strip()[:200]
    articles = []
    if len(text) >= 3:
        articles = search.matching_articles(text, public_only=True, language=translation.get_language(),
                                            limit=DEFLECT_RESULTS)
    return render(request, "support/kb/_suggest.html", {"articles": articles, "q": text})


@require_POST
def solved(request, pk):
    """The customer says the article solved their problem: one deflected contact, and no ticket to send."""
    article = _public().filter(pk=pk).first()
    if article is None:
        raise Http404
    # Over the rate the customer is thanked all the same, just not counted again: a metric, not a vote.
    if not limited(request, "kb-deflect", settings.KNOWLEDGE_DEFLECT_RATE):
        try:
            services.deflect(article_id=article.pk, query=request.POST.get("q", ""),
                             language=translation.get_language())
        except TicketError:
            raise Http404 from None
    return render(request, "support/kb/solved.html", {"article": article})
