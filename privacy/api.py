"""A requester's data in the REST API, for managers: `GET /api/v1/requesters/{id}/export/` and
`POST /api/v1/requesters/{id}/anonymise/`.

Agents (and integrations acting for them) get 403; an unknown requester is 404. The serializers below describe
the export document for the OpenAPI schema; `privacy.services` builds it (the desk's ZIP holds the same JSON).
"""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from privacy import services
from privacy.audit import Origin
from privacy.models import Channel
from tickets.api.errors import error_responses
from tickets.api.permissions import IsManager
from tickets.api.views import actor_for
from tickets.exceptions import TicketError
from tickets.models import Requester

MAX_ID = 2**63 - 1
ERRORS = {404: "No such requester.", 403: "Only managers can export or anonymise a requester's data."}


class ExportedRequester(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    anonymised = serializers.BooleanField()


class ExportedComment(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    author_role = serializers.CharField()
    by_requester = serializers.BooleanField(help_text="Written by the requester (else a public reply to them).")
    body = serializers.CharField(allow_blank=True)


class ExportedEvent(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor_role = serializers.CharField()
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField(allow_blank=True)
    from_tier = serializers.CharField(allow_null=True)
    to_tier = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    data = serializers.DictField()


class ExportedAttachment(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    at = serializers.DateTimeField()
    by_requester = serializers.BooleanField()
    file = serializers.CharField(allow_null=True, help_text="The file's path in the desk's ZIP export.")


class ExportedCsat(serializers.Serializer):
    rating = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)


class ExportedDiagnosis(serializers.Serializer):
    affected_item = serializers.CharField(allow_blank=True)
    steps_before = serializers.CharField(allow_blank=True)
    findings = serializers.CharField(allow_blank=True)


class ExportedResolution(serializers.Serializer):
    summary = serializers.CharField(allow_blank=True)


class ExportedTicket(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    subject = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    tier = serializers.CharField()
    priority = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    channel = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    diagnosis = ExportedDiagnosis()
    resolution = ExportedResolution()
    reopen_count = serializers.IntegerField()
    repeat_of = serializers.IntegerField(allow_null=True)
    csat = ExportedCsat(allow_null=True)
    comments = ExportedComment(many=True, help_text="The requester's messages and the public replies to them.")
    events = ExportedEvent(many=True)
    attachments = ExportedAttachment(many=True)


class ExportedInbound(serializers.Serializer):
    id = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    message_id = serializers.CharField(allow_blank=True)
    subject = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    ticket = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField()
    complete = serializers.BooleanField()
    raw = serializers.CharField(allow_blank=True, help_text="The message as received (undecodable bytes replaced).")


class ExportedNotification(serializers.Serializer):
    id = serializers.IntegerField()
    ticket = serializers.IntegerField()
    template = serializers.CharField()
    language = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class ExportedPortalLink(serializers.Serializer):
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)


class ExportedRating(ExportedCsat):
    ticket = serializers.IntegerField()
    closed_at = serializers.DateTimeField(allow_null=True)


class RequesterExport(serializers.Serializer):
    format = serializers.CharField(help_text=f"Always `{services.FORMAT}`.")
    exported_at = serializers.DateTimeField()
    requester = ExportedRequester()
    tickets = ExportedTicket(many=True)
    inbound_messages = ExportedInbound(many=True, help_text="E-mails received from the requester's address.")
    notifications = ExportedNotification(many=True, help_text="E-mails sent to the requester.")
    portal_links = ExportedPortalLink(many=True, help_text="Sign-in links to their portal page.")
    csat = ExportedRating(many=True, help_text="Their satisfaction ratings and comments.")


class AnonymiseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=services.REASON_MAX,
                                   help_text="Why (e.g. the request's reference); kept in the access log.")


class AnonymiseResult(serializers.Serializer):
    requester = serializers.IntegerField()
    already = serializers.BooleanField(help_text="True if the requester had been anonymised before: nothing "
                                                 "changed.")
    tickets = serializers.IntegerField()
    comments = serializers.IntegerField()
    events = serializers.IntegerField()
    attachments = serializers.IntegerField()
    inbound_messages = serializers.IntegerField()
    notifications = serializers.IntegerField()
    articles = serializers.IntegerField()


def _requester(pk: int) -> Requester:
    requester = Requester.objects.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if requester is None:
        raise TicketError(TicketError.NOT_FOUND, "No such requester.")
    return requester


class RequesterExportView(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        summary="Export everything held about a requester",
        description="The requester, their tickets (fields, the requester's messages and the public replies, "
        "events, attachments' metadata), e-mails received from and sent to them, portal sign-in links and "
        "ratings. Managers only; every export is recorded in the access log.",
        responses={200: RequesterExport, **error_responses(401, 403, 404, 429, descriptions=ERRORS)},
        tags=["privacy"],
    )
    def get(self, request, pk):
        document = services.requester_export(requester=_requester(pk), actor=actor_for(request),
                                             origin=Origin.of(request, Channel.API))
        return Response(document)


class RequesterAnonymiseView(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        summary="Anonymise a requester (right to be forgotten)",
        description="In one transaction, replaces the requester's name and e-mail and every text that came from "
        "them or names them (their tickets' texts and comments, event reasons, e-mails, attachments) with a "
        "fixed marker; ids, times, statuses, tiers, categories, priorities, ratings and events stay, so the "
        "metrics do not change. Cannot be undone. Repeating it changes nothing (`already`: true). Managers "
        "only; recorded in the access log with the reason.",
        request=AnonymiseInput,
        responses={200: AnonymiseResult, **error_responses(400, 401, 403, 404, 429, descriptions=ERRORS)},
        examples=[OpenApiExample("A request by letter", value={"reason": "Erasure request REQ-2026-114"},
                                 request_only=True)],
        tags=["privacy"],
    )
    def post(self, request, pk):
        requester = _requester(pk)
        data = AnonymiseInput(data=request.data)
        data.is_valid(raise_exception=True)
        done = services.requester_anonymise(requester=requester, actor=actor_for(request),
                                            reason=data.validated_data["reason"],
                                            origin=Origin.of(request, Channel.API))
        return Response(done.as_dict())
