"""`GET /api/v1/metrics/summary/`."""
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.knowledge import knowledge_summary
from metrics.selectors import breakdown, summary, trend
from tickets.api.views import errors
from tickets.models import Category
from tiers.models import Tier


class SummaryQuery(serializers.Serializer):
    start = serializers.DateTimeField(required=False, source="from", help_text="Start of the period (inclusive).")
    to = serializers.DateTimeField(required=False, help_text="End of the period (exclusive). Default: now.")
    tier = serializers.SlugRelatedField(slug_field="code", queryset=Tier.objects.all(), required=False)
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all(), required=False)
    agent = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all(), required=False)

    def to_internal_value(self, data):
        data = {("start" if key == "from" else key): value for key, value in data.items()}
        values = super().to_internal_value(data)
        end = values.get("to") or timezone.now()
        start = values.get("from") or end - timedelta(days=30)
        if start >= end:
            raise serializers.ValidationError({"from": ["Must be before `to`."]})
        values.update({"from": start, "to": end})
        return values


DURATIONS = inline_serializer("Durations", {"median": serializers.FloatField(allow_null=True),
                                            "p90": serializers.FloatField(allow_null=True)})
SUMMARY = inline_serializer(
    "MetricsSummary",
    {
        "created": serializers.IntegerField(),
        "resolution_rate": serializers.FloatField(allow_null=True),
        "time_to_resolve": inline_serializer("TimeToResolve", {
            "median": serializers.FloatField(allow_null=True),
            "p90": serializers.FloatField(allow_null=True),
            "mean": serializers.FloatField(allow_null=True),
            "business_median": serializers.FloatField(allow_null=True),
        }),
        "first_response": DURATIONS,
        "repeat_contacts": serializers.IntegerField(allow_null=True),
        "repeat_contact_rate": serializers.FloatField(allow_null=True),
        "flr_rate": serializers.FloatField(allow_null=True),
        "fcr_rate": serializers.FloatField(allow_null=True),
        "escalation_rate": serializers.FloatField(allow_null=True),
        "escalation_defects": serializers.IntegerField(allow_null=True),
        "sla_compliance": inline_serializer("SlaCompliance", {
            "resolution": serializers.FloatField(allow_null=True),
            "response": serializers.FloatField(allow_null=True),
        }),
        "csat": inline_serializer("CsatSummary", {
            "mean": serializers.FloatField(allow_null=True),
            "share_satisfied": serializers.FloatField(allow_null=True),
            "count": serializers.IntegerField(allow_null=True),
        }),
        "backlog": inline_serializer("Backlog", {
            "total": serializers.IntegerField(),
            "by_tier": serializers.DictField(child=serializers.IntegerField()),
            "by_status": serializers.DictField(child=serializers.IntegerField()),
            "by_age": serializers.DictField(child=serializers.IntegerField(),
                                            help_text="Open tickets by age: <1d, 1-3d, 3-7d, >7d."),
        }),
    },
)


FILTER_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="ISO 8601 date-time; inclusive."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO 8601 date-time; exclusive."),
    OpenApiParameter("tier", str, description="Tier code, e.g. L1."),
    OpenApiParameter("category", str, description="Category slug."),
    OpenApiParameter("agent", str, description="Username."),
]


def parse(query_class, request) -> tuple[dict, dict]:
    """Validated query values, and the period and filters as keyword arguments for the selectors."""
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    return values, {"start": values["from"], "end": values["to"], "tier": values.get("tier"),
                    "category": values.get("category"), "agent": values.get("agent")}


class SummaryView(APIView):
    @extend_schema(
        summary="Metrics for a period",
        description="Every metric of the product's definitions for `[from, to)` (default: the last 30 days), "
        "optionally for one tier, category or agent. Durations in seconds, rates as fractions 0–1, null where "
        "undefined.",
        parameters=FILTER_PARAMETERS,
        responses={200: SUMMARY, **errors(400, 401, 403, 429)},
        examples=[OpenApiExample("Last 30 days", value={"created": 412, "backlog": {"total": 37}}, response_only=True)],
        tags=["metrics"],
    )
    def get(self, request):
        _values, filters = parse(SummaryQuery, request)
        return Response(summary(**filters))


class BreakdownQuery(SummaryQuery):
    by = serializers.ChoiceField(choices=["tier", "category", "agent"], default="tier")


class TrendQuery(SummaryQuery):
    step = serializers.ChoiceField(choices=["day", "week"], default="day")


BREAKDOWN_ROW = inline_serializer(
    "BreakdownRow",
    many=True,
    fields={
        "key": serializers.CharField(),
        "label": serializers.CharField(),
        "created": serializers.IntegerField(),
        "resolution_rate": serializers.FloatField(allow_null=True),
        "ttr_median": serializers.FloatField(allow_null=True),
        "ttr_p90": serializers.FloatField(allow_null=True),
        "repeat_contact_rate": serializers.FloatField(allow_null=True),
        "escalation_rate": serializers.FloatField(allow_null=True),
        "fcr_rate": serializers.FloatField(allow_null=True),
        "sla_resolution": serializers.FloatField(allow_null=True),
        "csat_mean": serializers.FloatField(allow_null=True),
    },
)
TREND_ROW = inline_serializer(
    "TrendRow",
    many=True,
    fields={
        "period": serializers.DateField(),
        "created": serializers.IntegerField(),
        "resolved": serializers.IntegerField(),
        "ttr_median": serializers.FloatField(allow_null=True),
        "repeat_contacts": serializers.IntegerField(),
    },
)
MAX_TREND_BUCKETS = 800


class BreakdownView(APIView):
    @extend_schema(
        summary="Metrics per tier, category or agent",
        description="The main metrics of `summary` for each group, to find weak spots.",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter("by", str, enum=["tier", "category", "agent"])],
        responses={200: BREAKDOWN_ROW, **errors(400, 401, 403, 429)},
        tags=["metrics"],
    )
    def get(self, request):
        values, filters = parse(BreakdownQuery, request)
        return Response(breakdown(by=values["by"], **filters))


class TrendView(APIView):
    @extend_schema(
        summary="Metrics per day or week",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter("step", str, enum=["day", "week"])],
        responses={200: TREND_ROW, **errors(400, 401, 403, 429)},
        tags=["metrics"],
    )
    def get(self, request):
        values, filters = parse(TrendQuery, request)
        days = (values["to"] - values["from"]).days
        if days / (7 if values["step"] == "week" else 1) > MAX_TREND_BUCKETS:
            raise serializers.ValidationError({"step": [f"At most {MAX_TREND_BUCKETS} points; use a longer step."]})
        return Response(trend(step=values["step"], **filters))


TTR_SPLIT = inline_serializer("TimeToResolveGroup", {
    "count": serializers.IntegerField(),
    "median": serializers.FloatField(allow_null=True),
    "mean": serializers.FloatField(allow_null=True),
})
KNOWLEDGE = inline_serializer(
    "KnowledgeMetrics",
    {
        "suggestions_used": serializers.IntegerField(),
        "tickets_with_suggestions": serializers.IntegerField(),
        "resolved": serializers.IntegerField(),
        "articles_per_resolution": serializers.FloatField(allow_null=True),
        "deflected_contacts": serializers.IntegerField(allow_null=True,
                                                       help_text="null with a tier or agent filter."),
        "time_to_resolve_with_suggestion": TTR_SPLIT,
        "time_to_resolve_without_suggestion": TTR_SPLIT,
        "top_articles": inline_serializer("TopArticle", many=True, fields={
            "id": serializers.IntegerField(), "title": serializers.CharField(), "used": serializers.IntegerField(),
        }),
    },
)


class KnowledgeView(APIView):
    @extend_schema(
        summary="How the knowledge base is used",
        description="Suggestions used, articles used per resolution, contacts deflected by public articles, and "
        "the time to resolve of tickets resolved in `[from, to)` with and without a suggestion (seconds).",
        parameters=FILTER_PARAMETERS,
        responses={200: KNOWLEDGE, **errors(400, 401, 403, 429)},
        tags=["metrics"],
    )
    def get(self, request):
        _values, filters = parse(SummaryQuery, request)
        return Response(knowledge_summary(**filters))
