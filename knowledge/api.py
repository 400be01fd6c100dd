"""The knowledge base in the REST API: articles to read and search, and a ticket's suggestions.

`GET /api/v1/articles/` (`q` searches, ranked; `category`, `visibility` filter), `GET /api/v1/articles/{id}/`,
`GET /api/v1/tickets/{id}/suggestions/`, `POST /api/v1/tickets/{id}/suggestions/use/`. Staff only, like the
rest of the API; refusals are the API's usual errors.
"""
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledge import search, services
from knowledge.markdown import render as render_markdown
from knowledge.models import Article, SuggestionUse, Use, Visibility
from tickets.api.views import actor_for, errors
from tickets.exceptions import TicketError
from tickets.policy import tickets_visible_to

MAX_ID = 2**63 - 1


class ArticleSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tags = serializers.SerializerMethodField()
    solution_html = serializers.SerializerMethodField(help_text="The solution as sanitised HTML.")
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "problem", "solution", "solution_html", "category", "tags", "visibility",
                  "language", "archived", "source_ticket", "author", "updated_by", "created_at", "updated_at",
                  "version"]

    def get_tags(self, article) -> list[str]:
        return article.tag_list

    def get_solution_html(self, article) -> str:
        return str(render_markdown(article.solution))


class MatchSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["ticket", "article"])
    id = serializers.IntegerField(source="pk")
    reference = serializers.CharField(help_text="HD-… for tickets, empty for articles.")
    title = serializers.CharField()
    text = serializers.CharField(help_text="The resolution summary, or the article's solution (Markdown).")
    category = serializers.CharField()
    when = serializers.DateTimeField(allow_null=True)
    matched = serializers.IntegerField(help_text="Key words found (0: found by a similar subject).")
    asked = serializers.IntegerField()
    share = serializers.IntegerField(help_text="How well it matched, 0–100.")


class UseInput(serializers.Serializer):
    how = serializers.ChoiceField(choices=Use.choices)
    article = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    solved_ticket = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class ArticlePages(PageNumberPagination):
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"


class ArticleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ArticleSerializer
    pagination_class = ArticlePages
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        articles = Article.objects.select_related("category", "author", "updated_by").order_by("-updated_at", "-id")
        if self.action == "list":
            params = self.request.query_params
            if params.get("category"):
                articles = articles.filter(category__slug=params["category"])
            if params.get("visibility") in Visibility.values:
                articles = articles.filter(visibility=params["visibility"])
            if params.get("archived") != "true":
                articles = articles.filter(archived=False)
        return articles

    @extend_schema(
        summary="List or search articles",
        parameters=[
            OpenApiParameter("q", str, description="Search text: the best matches first (at most 25)."),
            OpenApiParameter("category", str, description="Category slug."),
            OpenApiParameter("visibility", str, enum=Visibility.values),
            OpenApiParameter("archived", bool, description="Include archived articles."),
        ],
        responses={200: ArticleSerializer(many=True), **errors(400, 401, 403, 404, 429)},
        tags=["knowledge"],
    )
    def list(self, request, *args, **kwargs):
        text = request.query_params.get("q", "").strip()[:200]
        if not text:
            return super().list(request, *args, **kwargs)
        found = search.matching_articles(text, public_only=False, limit=ArticlePages.page_size)
        rows = {a.pk: a for a in self.get_queryset().filter(pk__in=[m.pk for m in found])}
        ranked = [rows[m.pk] for m in found if m.pk in rows]
        return Response({"count": len(ranked), "next": None, "previous": None,
                         "results": ArticleSerializer(ranked, many=True).data})

    @extend_schema(summary="One article", responses={200: ArticleSerializer, **errors(401, 403, 404, 429)},
                   tags=["knowledge"])
    def retrieve(self, request, *args, **kwargs):
        if not 0 < int(kwargs["pk"]) <= MAX_ID:
            raise TicketError(TicketError.NOT_FOUND, "No such article.")
        return super().retrieve(request, *args, **kwargs)


def _ticket(request, pk):
    if not 0 < int(pk) <= MAX_ID:
        raise TicketError(TicketError.NOT_FOUND, "No such ticket.")
    ticket = tickets_visible_to(request.user).filter(pk=pk).first()
    if ticket is None:
        raise TicketError(TicketError.NOT_FOUND, "No such ticket.")
    return ticket


class SuggestionsView(APIView):
    @extend_schema(
        summary="Earlier fixes and articles for a ticket",
        description="The resolved tickets and the articles most like this ticket, best first.",
        responses={200: inline_serializer("Suggestions", {"tickets": MatchSerializer(many=True),
                                                          "articles": MatchSerializer(many=True)}),
                   **errors(401, 403, 404, 429)},
        tags=["knowledge"],
    )
    def get(self, request, pk):
        found_tickets, found_articles = search.suggestions_for(_ticket(request, pk),
                                                               limit=settings.KNOWLEDGE_SUGGESTIONS)
        return Response({"tickets": MatchSerializer(found_tickets, many=True).data,
                         "articles": MatchSerializer(found_articles, many=True).data})


class SuggestionUseView(APIView):
    @extend_schema(
        summary="Record that a suggestion was used",
        description="Name either `article` or `solved_ticket`. Noted on the ticket's timeline (event "
        "`suggestion_used`); the ticket's version does not change.",
        request=UseInput,
        responses={201: inline_serializer("SuggestionUse", {"id": serializers.IntegerField(),
                                                            "event_at": serializers.DateTimeField()}),
                   **errors(400, 401, 403, 404, 409, 429)},
        tags=["knowledge"],
    )
    def post(self, request, pk):
        ticket = _ticket(request, pk)
        data = UseInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        use: SuggestionUse = services.suggestion_use(
            actor=actor_for(request), ticket_id=ticket.pk, how=values["how"], article_id=values.get("article"),
            solved_ticket_id=values.get("solved_ticket"))
        return Response({"id": use.pk, "event_at": use.at}, status=status.HTTP_201_CREATED)
