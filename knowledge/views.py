"""The knowledge base in the agent workspace (`/desk/kb/`): articles to read, write and trace, and the
suggestions panel of the ticket page."""
import difflib
import itertools

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from knowledge import search, services
from knowledge.markdown import render as render_markdown
from knowledge.models import Article, Use, Visibility
from tickets.desk.views import TICKET_ERROR_STATUS, _int_or_none, _ticket_or_404, reply_draft_key, staff_required
from tickets.exceptions import TicketError
from tickets.models import Category
from tickets.policy import Actor, can
from tickets.workflow import OPEN_STATUSES, Action

PAGE_SIZE = 25
# How the history names the fields a revision changed (`services.TRACKED`).
CHANGE_LABELS = {
    "title": gettext_lazy("title"), "problem": gettext_lazy("problem"), "solution": gettext_lazy("solution"),
    "category_name": gettext_lazy("category"), "tag_names": gettext_lazy("tags"),
    "visibility": gettext_lazy("visibility"), "language": gettext_lazy("language"),
    "archived": gettext_lazy("archived"),
}


class ArticleForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=services.TITLE_MAX)
    problem = forms.CharField(label=gettext_lazy("Problem"), widget=forms.Textarea(attrs={"rows": 6}),
                              help_text=gettext_lazy("What the customer sees: symptoms, error messages."))
    solution = forms.CharField(label=gettext_lazy("Solution"), widget=forms.Textarea(attrs={"rows": 10}),
                               help_text=gettext_lazy("What fixes it, step by step. Markdown: **bold**, lists, "
                                                      "`code`, [links](https://example.com)."))
    category = forms.ModelChoiceField(label=gettext_lazy("Category"), required=False,
                                      queryset=Category.objects.filter(is_active=True))
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=600,
                           help_text=gettext_lazy("Separated by commas."))
    visibility = forms.ChoiceField(label=gettext_lazy("Who can read it"), choices=Visibility.choices)
    language = forms.ChoiceField(label=gettext_lazy("Language"),
                                 choices=[("", gettext_lazy("any")), *settings.LANGUAGES], required=False)
    archived = forms.BooleanField(label=gettext_lazy("Archived (no longer suggested or shown to customers)"),
                                  required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def as_input(self) -> services.ArticleInput:
        data = self.cleaned_data
        return services.ArticleInput(
            title=data["title"], problem=data["problem"], solution=data["solution"], category=data["category"],
            tags=services.parse_tags(data["tags"]), visibility=data["visibility"], language=data["language"],
            archived=data["archived"],
        )


def _article_or_404(pk) -> Article:
    article = Article.objects.select_related("category", "author", "updated_by", "source_ticket").filter(pk=pk).first()
    if article is None:
        raise Http404
    return article


@staff_required
@require_GET
def article_list(request):
    """Every article, searchable, newest change first; archived ones only when asked for."""
    text = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    archived = request.GET.get("archived") == "1"
    if text:
        found = search.matching_articles(text, public_only=False, limit=PAGE_SIZE)
        articles = {a.pk: a for a in Article.objects.filter(pk__in=[m.pk for m in found]).select_related("category")}
        page = [articles[m.pk] for m in found if m.pk in articles]
        paginator = None
    else:
        queryset = Article.objects.filter(archived=archived).select_related("category", "updated_by")
        if category:
            queryset = queryset.filter(category__slug=category)
        paginator = Paginator(queryset.order_by("-updated_at", "-id"), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
    return render(request, "knowledge/list.html", {
        "page": page, "paginator": paginator, "q": text, "category": category, "archived": archived,
        "categories": Category.objects.filter(is_active=True),
    })


@staff_required
@require_GET
def article_detail(request, pk):
    article = _article_or_404(pk)
    return render(request, "knowledge/article.html", {
        "article": article,
        "solution_html": render_markdown(article.solution),
        "problem_html": render_markdown(article.problem),
        "tags": article.tag_list,
        "uses": article.uses.count(),
    })


@staff_required
@require_http_methods(["GET", "POST"])
def article_edit(request, pk=None):
    """Write a new article, or change one (refused, with the text kept, if someone saved in between)."""
    article = _article_or_404(pk) if pk is not None else None
    status, problem = 200, None
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if form.is_valid():
            try:
                saved = services.article_save(user=request.user, data=form.as_input(),
                                              article_id=article.pk if article else None,
                                              version=form.cleaned_data["version"])
            except TicketError as exc:
                status, problem = TICKET_ERROR_STATUS.get(exc.code, 409), str(exc)
                if exc.code == TicketError.STALE_VERSION:
                    article = _article_or_404(pk)
            else:
                messages.success(request, _("Article saved."))
                return redirect("knowledge:article", pk=saved.pk)
        else:
            status = 400
    elif article is not None:
        form = ArticleForm(initial={
            "title": article.title, "problem": article.problem, "solution": article.solution,
            "category": article.category, "tags": ", ".join(article.tags.values_list("name", flat=True)),
            "visibility": article.visibility, "language": article.language, "archived": article.archived,
            "version": article.version,
        })
    else:
        form = ArticleForm(initial={"visibility": Visibility.INTERNAL})
    return render(request, "knowledge/edit.html", {"form": form, "article": article, "problem": problem},
                  status=status)


@staff_required
@require_GET
def article_history(request, pk):
    """Every revision, newest first, with what it changed against the one before."""
    article = _article_or_404(pk)
    revisions = list(article.revisions.select_related("editor").order_by("version"))
    entries = []
    for before, after in itertools.pairwise([None, *revisions]):
        diffs = []
        if before is not None:
            for name in ("title", "problem", "solution"):
                old, new = getattr(before, name), getattr(after, name)
                if old != new:
                    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
                    diffs.append({"field": name, "lines": list(lines)[2:]})
        entries.append({"revision": after, "diffs": diffs, "first": before is None,
                        "changed": [str(CHANGE_LABELS.get(name, name)) for name in after.changed]})
    return render(request, "knowledge/history.html", {"article": article, "entries": entries[::-1]})


@staff_required
@require_POST
def publish_from_ticket(request, pk):
    """One click on a resolved ticket: its diagnosis and resolution become an internal article to polish."""
    ticket = _ticket_or_404(request, pk)
    try:
        article, created = services.article_from_ticket(user=request.user, ticket_id=ticket.pk)
    except TicketError as exc:
        messages.error(request, str(exc))
        return redirect("desk:ticket", pk=ticket.pk)
    messages.success(request, _("Article created from the ticket — check it and make it public if customers "
                                "should see it.") if created else _("This ticket was published before."))
    return redirect("knowledge:article", pk=article.pk)


@staff_required
@require_GET
def ticket_suggestions(request, pk):
    """The ticket page's panel: the earlier fixes and the articles most like this ticket (two queries)."""
    ticket = _ticket_or_404(request, pk)
    found_tickets, found_articles = search.suggestions_for(ticket, limit=settings.KNOWLEDGE_SUGGESTIONS)
    return render(request, "knowledge/_suggestions.html", {
        "ticket": ticket,
        "similar": found_tickets,
        "articles": found_articles,
        "can_use": ticket.status in OPEN_STATUSES and can(Actor.of_user(request.user), Action.USE_SUGGESTION,
                                                          ticket),
    })


@staff_required
@require_POST
def use_suggestion(request, pk):
    """Link a suggestion to the ticket or paste it into the reply; either way the use is recorded.

    From the page's script (`X-Requested-With: fetch`) the answer is 204 and the script pastes the text
    itself; a plain form post comes back to the ticket page with the reply box filled in."""
    ticket = _ticket_or_404(request, pk)
    how = request.POST.get("how", "")
    ids = {name: _int_or_none(request.POST.get(name)) for name in ("article", "solved_ticket")}
    try:
        use = services.suggestion_use(actor=Actor.of_user(request.user), ticket_id=ticket.pk, how=how,
                                      article_id=ids["article"], solved_ticket_id=ids["solved_ticket"])
    except TicketError as exc:
        status = TICKET_ERROR_STATUS.get(exc.code, 409)
        if request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(str(exc), status=status, content_type="text/plain; charset=utf-8")
        messages.error(request, str(exc))
        return redirect("desk:ticket", pk=ticket.pk)
    if request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(status=204)
    url = reverse("desk:ticket", args=[ticket.pk])
    if use.how == Use.PASTED:
        text = use.article.solution if use.article_id else use.solved_ticket.resolution_summary
        request.session[reply_draft_key(ticket.pk)] = text
        messages.success(request, _("Pasted into the reply below — edit it and send it."))
        return redirect(f"{url}#comment-form")
    messages.success(request, _("Linked to the ticket."))
    return redirect(url)

