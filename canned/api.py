"""Canned replies in the REST API, read-only: the caller's replies, and the same filled in for a ticket.

`GET /api/v1/canned-replies/` and `GET /api/v1/tickets/{id}/canned-replies/`. Staff only, like the rest of the
API; what a caller sees is `canned.selectors.canned_replies_visible_to` (an API token sees what its user sees).
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from canned import selectors
from canned.models import CannedReply
from tickets.api.views import errors
from tickets.exceptions import not_found
from tickets.policy import tickets_visible_to

MAX_ID = 2**63 - 1
SCOPES = ["personal", "tier"]


class CannedReplySerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField(help_text="`personal` (it has an owner) or `tier` (tier-wide).")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    body = serializers.CharField(help_text="The text with its placeholders, e.g. `{{ requester.name }}`.")

    class Meta:
        model = CannedReply
        fields = ["id", "title", "body", "scope", "owner", "tier", "language", "created_at", "updated_at"]

    def get_scope(self, reply) -> str:
        return "personal" if reply.is_personal else "tier"


class RenderedReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    text = serializers.CharField(help_text="The text filled in for the ticket: plain text, not HTML.")
    language = serializers.CharField(help_text="The language it is written for; empty for any.")
    scope = serializers.ChoiceField(choices=SCOPES)


class CannedReplyListView(APIView):
    @extend_schema(
        summary="Your canned replies",
        description="Your personal replies and those of your tiers (a manager: every reply), by title.",
        responses={200: CannedReplySerializer(many=True), **errors(401, 403, 429)},
        tags=["canned replies"],
    )
    def get(self, request):
        return Response(CannedReplySerializer(selectors.canned_replies_visible_to(request.user), many=True).data)


class TicketCannedRepliesView(APIView):
    @extend_schema(
        summary="Canned replies filled in for a ticket",
        description="Every reply you see, its placeholders filled in for this ticket. Values from the ticket "
        "are inserted as they are (never read as placeholders); the text is plain text. Replies in the "
        "customer's language, or in none, come first.",
        responses={200: RenderedReplySerializer(many=True), **errors(401, 403, 404, 429)},
        tags=["canned replies"],
    )
    def get(self, request, pk):
        if not 0 < int(pk) <= MAX_ID:
            raise not_found()
        ticket = tickets_visible_to(request.user).select_related("requester", "tier").filter(pk=pk).first()
        if ticket is None:
            raise not_found()
        return Response(RenderedReplySerializer(selectors.rendered_for_ticket(request.user, ticket), many=True).data)
