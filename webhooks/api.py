"""REST API for webhooks: managers list, register, inspect and remove them.

The signing secret is generated here and returned once, in the response to
the POST that registered the webhook; no other response contains it.
"""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from tickets.api.errors import error_responses
from tickets.api.permissions import IsManager
from tickets.workflow import EventKind
from webhooks.delivery import TargetRefused, check_target
from webhooks.models import Webhook

# --- serializers --------------------------------------------------------------------


class WebhookInput(serializers.Serializer):
    """What a caller may set. Everything else (secret, owner, times) is the server's."""

    url = serializers.URLField(
        max_length=2000,
        help_text="http or https URL that receives a POST per event. Must resolve to public addresses only.",
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices),
        required=False,
        default=list,
        help_text="Event kinds to send; empty or omitted means every kind.",
    )
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_url(self, value):
        try:
            check_target(value)
        except TargetRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_kinds(self, value):
        return list(dict.fromkeys(value))  # drop repeats, keep the caller's order


class WebhookSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=EventKind.choices), read_only=True)
    created_by = serializers.CharField(source="created_by.get_username", read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "url", "kinds", "is_active", "created_by", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="HMAC-SHA256 key for X-Tierdesk-Signature. Shown only in this response: store it now.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


# --- documentation ---------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    400: "Invalid input, e.g. a URL that is not http(s) or resolves to a private address.",
    403: "Only managers can manage webhooks.",
    404: "No such webhook.",
}


def errors(*codes: int) -> dict:
    return error_responses(*codes, descriptions=_ERROR_DESCRIPTIONS)


SIGNING = (
    "Each event is POSTed as JSON (the event as in the ticket timeline, plus its ticket's `id` and `reference`) "
    "with headers `X-Tierdesk-Event` (the kind), `X-Tierdesk-Delivery` (an id; deliveries are at least once, so "
    "deduplicate on it) and `X-Tierdesk-Signature: t=<unix time>,v1=<hex>`, where `v1` is the HMAC-SHA256, keyed "
    "with the secret, of `<t>.` followed by the raw body. Any 2xx answer counts as delivered; anything else, or no "
    "answer, is retried with exponential backoff. Redirects are not followed."
)
CREATE_EXAMPLE = OpenApiExample(
    "Escalations only",
    value={"url": "https://hooks.example.com/tierdesk", "kinds": ["escalated", "sla_breached"]},
    request_only=True,
)
CREATED_EXAMPLE = OpenApiExample(
    "Registered",
    value={
        "id": 3,
        "url": "https://hooks.example.com/tierdesk",
        "kinds": ["escalated", "sla_breached"],
        "is_active": True,
        "created_by": "mona",
        "created_at": "2025-03-04T09:15:00Z",
        "secret": "example-only-7Jq2mX9vR4tW8yB1nC5dF0gH3kL6pS",  # nosec B105  # a documented example value
    },
    response_only=True,
    status_codes=["201"],
)
REFUSED_EXAMPLE = OpenApiExample(
    "Private target",
    value={
        "detail": "url: The host '10.0.0.1' resolves to 10.0.0.1, a private address; refused.",
        "code": "invalid",
        "errors": {"url": ["The host '10.0.0.1' resolves to 10.0.0.1, a private address; refused."]},
    },
    response_only=True,
    status_codes=["400"],
)


# --- views -----------------------------------------------------------------------


class WebhookViewMixin:
    permission_classes = [IsManager]
    serializer_class = WebhookSerializer
    queryset = Webhook.objects.select_related("created_by").order_by("id")
    filter_backends = []
    pagination_class = None  # a handful of webhooks at most


class WebhookListView(WebhookViewMixin, generics.GenericAPIView):
    @extend_schema(
        summary="List webhooks",
        description="Every registered webhook, oldest first. Secrets are never listed.",
        responses={200: WebhookSerializer(many=True), **errors(401, 403, 429)},
        tags=["webhooks"],
    )
    def get(self, request):
        return Response(WebhookSerializer(self.get_queryset(), many=True).data)

    @extend_schema(
        summary="Register a webhook",
        description="Registers a URL to receive ticket events. The response contains the signing `secret`; it "
        "is shown only this once. " + SIGNING,
        request=WebhookInput,
        responses={201: WebhookCreatedSerializer, **errors(400, 401, 403, 429)},
        examples=[CREATE_EXAMPLE, CREATED_EXAMPLE, REFUSED_EXAMPLE],
        tags=["webhooks"],
    )
    def post(self, request):
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        webhook = Webhook.objects.create(
            url=values["url"], kinds=values["kinds"], is_active=values["is_active"], created_by=request.user
        )
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(WebhookViewMixin, generics.GenericAPIView):
    @extend_schema(
        summary="Get a webhook",
        description="One webhook, without its secret.",
        responses={200: WebhookSerializer, **errors(401, 403, 404, 429)},
        tags=["webhooks"],
    )
    def get(self, request, pk):
        return Response(WebhookSerializer(self.get_object()).data)

    @extend_schema(
        summary="Remove a webhook",
        description="Removes the webhook with its delivery log; nothing more is sent to it.",
        responses={204: None, **errors(401, 403, 404, 429)},
        tags=["webhooks"],
    )
    def delete(self, request, pk):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
