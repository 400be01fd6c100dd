"""The REST API: thin views that parse input, call one service, and render the result."""
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from privacy import audit
from tickets import services
from tickets.api import bulk as bulk_api
from tickets.api.actions import perform
from tickets.api.errors import error_responses
from tickets.api.filters import TicketFilter
from tickets.api.serializers import (
    AssignInput,
    AttachmentInput,
    AttachmentSerializer,
    CategorySerializer,
    CloseInput,
    CommentInput,
    CommentSerializer,
    DeEscalateInput,
    DiagnoseInput,
    EventSerializer,
    LinkedTicketSerializer,
    LinkInput,
    MergeInput,
    OptionalReasonInput,
    ReasonInput,
    ResolveInput,
    TagInput,
    TicketCreateInput,
    TicketSerializer,
    TicketUpdateInput,
    TierSerializer,
    VersionInput,
)
from tickets.attachments import download_response
from tickets.exceptions import TicketError
from tickets.merge import linked_tickets
from tickets.models import Attachment, Category, IdempotencyKey, Ticket
from tickets.policy import Actor, tickets_visible_to
from tickets.workflow import Action
from tiers.models import Tier


def errors(*codes: int) -> dict:
    return error_responses(*codes)


CONFLICT_EXAMPLE = OpenApiExample(
    "Illegal transition",
    value={"detail": "Cannot resolve a ticket that is new.", "code": "illegal_transition"},
    response_only=True,
    status_codes=["409"],
)
STALE_EXAMPLE = OpenApiExample(
    "Stale version",
    value={
        "detail": "This ticket was changed by someone else (version 4, you had 3). Reload it and try again.",
        "code": "stale_version",
    },
    response_only=True,
    status_codes=["409"],
)


class TicketCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")


class TimelineCursor(CursorPagination):
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"
    ordering = ("id",)


def actor_for(request) -> Actor:
    """The acting user; a call authenticated by API token acts as an integration with the user's role."""
    return Actor.of_user(request.user, integration=isinstance(request.successful_authenticator, TokenAuthentication))


def action_schema(summary: str, request, description: str = ""):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: TicketSerializer, **errors(400, 401, 403, 404, 409, 429)},
        examples=[CONFLICT_EXAMPLE, STALE_EXAMPLE],
        tags=["workflow"],
    )


MAX_ID = 2**63 - 1


class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TicketSerializer
    lookup_value_regex = "[0-9]+"
    pagination_class = TicketCursor
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = TicketFilter
    ordering_fields = ["created_at", "updated_at", "priority", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return (
            tickets_visible_to(self.request.user).select_related("tier", "category", "requester", "assignee")
            .prefetch_related("tags")
        )

    def get_object(self):
        # An id the database cannot hold is simply not found (rather than a database error).
        if not 0 < int(self.kwargs["pk"]) <= MAX_ID:
            raise TicketError(TicketError.NOT_FOUND, "No such ticket.")
        return super().get_object()

    def get_ticket(self) -> Ticket:
        """The ticket in the URL, if the caller may see it (404 otherwise, never 403: existence is not leaked)."""
        return self.get_object()

    def ticket_response(self, ticket: Ticket, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=ticket.pk)
        return Response(TicketSerializer(fresh).data, status=status_code)

    def changed_response(self, change) -> Response:
        """The ticket as `change` (a service call) left it. It is read back in the change's transaction, under
        its row lock: read after the commit, it could already carry a racing writer's change and version, and
        two callers would be answered the same version."""
        with transaction.atomic():
            return self.ticket_response(change())

    def parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        summary="List tickets",
        description="Tickets visible to you, newest first unless `ordering` says otherwise; cursor-paginated.",
        responses={200: TicketSerializer(many=True), **errors(400, 401, 403, 404, 429)},
        tags=["tickets"],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="Get a ticket", responses={200: TicketSerializer, **errors(401, 403, 404, 429)},
                   tags=["tickets"])
    def retrieve(self, request, *args, **kwargs):
        ticket = self.get_object()
        audit.record(request, audit.Action.VIEWED_TICKET, channel=audit.Channel.API, ticket=ticket)
        return Response(self.get_serializer(ticket).data)

    @extend_schema(
        summary="Open a ticket",
        description=(
            "Opens a ticket in the L1 queue. Send an `Idempotency-Key` header to make retries safe: a retry with "
            "the same key within 24 hours returns the ticket created first (with `Idempotent-Replayed: true`)."
        ),
        request=TicketCreateInput,
        parameters=[
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                             description="Any unique string up to 255 characters, e.g. a UUID.")
        ],
        responses={201: TicketSerializer, **errors(400, 401, 403, 429)},
        examples=[
            OpenApiExample(
                "Monitoring alert",
                value={
                    "subject": "Disk full on fs01",
                    "description": "/srv is 98% full since 03:10.",
                    "requester": {"email": "monitoring@example.com", "name": "Monitoring"},
                    "priority": "P2",
                    "category": "hardware",
                },
                request_only=True,
            )
        ],
        tags=["tickets"],
    )
    def create(self, request, *args, **kwargs):
        data = self.parse(TicketCreateInput)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255:
            return Response({"detail": "Idempotency-Key is longer than 255 characters.", "code": "invalid"},
                            status=status.HTTP_400_BAD_REQUEST)

        def create_ticket():
            return services.ticket_create(
                actor=actor_for(request),
                subject=data["subject"],
                description=data["description"],
                requester_email=data["requester"]["email"],
                requester_name=data["requester"].get("name", ""),
                priority=data["priority"],
                category=data["category"],
                channel=data["channel"],
            )

        if not key:
            return self.created_response(create_ticket())
        ticket, replayed = self._create_once(key, request.data, create_ticket)
        if not replayed:
            return self.created_response(ticket)
        response = self.ticket_response(ticket, status.HTTP_201_CREATED)
        response["Idempotent-Replayed"] = "true"
        return response

    def created_response(self, ticket: Ticket) -> Response:
        """The ticket just created, as the service left it: every field it shows was set there (the tier,
        requester and category as objects), so nothing is read back (a fifth of the creation's time)."""
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)

    def _create_once(self, key, payload, create_ticket):
        """Create through `create_ticket` unless this user already used `key` in the last 24 hours.

        The key row is inserted first: a concurrent retry blocks on its unique
        index until the first request commits, then finds its ticket.
        """
        fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(user=self.request.user, key=key, fingerprint=fingerprint)
            except IntegrityError:
                record = IdempotencyKey.objects.select_for_update().get(user=self.request.user, key=key)
                if record.created_at >= cutoff and record.ticket_id is not None:
                    if record.fingerprint != fingerprint:
                        raise TicketError(
                            TicketError.INVALID,
                            "This Idempotency-Key was already used for a different request.",
                        ) from None
                    return record.ticket, True
                record.created_at, record.fingerprint = timezone.now(), fingerprint
            record.ticket = create_ticket()
            record.save()
            return record.ticket, False

    @extend_schema(
        summary="Edit a ticket",
        description="Change subject, description, priority or category of an open ticket. "
        "A new priority restarts the SLA clocks under that priority's policy.",
        request=TicketUpdateInput,
        responses={200: TicketSerializer, **errors(400, 401, 403, 404, 409, 429)},
        examples=[STALE_EXAMPLE],
        tags=["tickets"],
    )
    def partial_update(self, request, *args, **kwargs):
        ticket = self.get_ticket()
        data = self.parse(TicketUpdateInput)
        version = data.pop("version", None)
        return self.changed_response(
            lambda: services.ticket_update(actor=actor_for(request), ticket_id=ticket.pk, version=version, **data)
        )

    # --- workflow actions ----------------------------------------------------

    def run(self, action: str):
        ticket = self.get_ticket()
        return self.changed_response(
            lambda: perform(action, actor=actor_for(self.request), ticket_id=ticket.pk, data=self.request.data)
        )

    @action_schema("Take a new ticket", VersionInput, "The caller becomes the assignee; status becomes diagnosing.")
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        return self.run(Action.TAKE)

    @action_schema("Save the diagnosis", DiagnoseInput)
    @action(detail=True, methods=["post"])
    def diagnose(self, request, pk=None):
        return self.run(Action.DIAGNOSE)

    @action_schema("Start resolving", VersionInput, "Needs the diagnosis: affected item, steps before, findings.")
    @action(detail=True, methods=["post"], url_path="start-resolving")
    def start_resolving(self, request, pk=None):
        return self.run(Action.START_RESOLVING)

    @action_schema("Wait for the customer", OptionalReasonInput, "Pauses every SLA clock.")
    @action(detail=True, methods=["post"])
    def wait(self, request, pk=None):
        return self.run(Action.WAIT)

    @action_schema("Resume a waiting ticket", VersionInput)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self.run(Action.RESUME)

    @action_schema("Resolve", ResolveInput, "From diagnosing, send the diagnosis fields too (a quick fix).")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self.run(Action.RESOLVE)

    @action_schema("Escalate to the next tier", ReasonInput)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        return self.run(Action.ESCALATE)

    @action_schema("Return to the previous tier", DeEscalateInput)
    @action(detail=True, methods=["post"], url_path="de-escalate")
    def de_escalate(self, request, pk=None):
        return self.run(Action.DE_ESCALATE)

    @action_schema("Reopen a resolved ticket", ReasonInput, "Counts as a repeat contact.")
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self.run(Action.REOPEN)

    @action_schema("Close a resolved ticket", CloseInput, "An integration may pass the customer's rating (1–5).")
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self.run(Action.CLOSE)

    @action_schema("Assign to an agent", AssignInput)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        return self.run(Action.ASSIGN)

    @action_schema("Unlink a repeat contact", VersionInput,
                   "The ticket is not a repeat of the one it was linked to: `repeat_of` becomes null.")
    @action(detail=True, methods=["post"], url_path="unlink-repeat")
    def unlink_repeat(self, request, pk=None):
        return self.run(Action.UNLINK_REPEAT)

    # --- merge, links and tags --------------------------------------------------

    @action_schema(
        "Merge into another ticket", MergeInput,
        "This ticket (the duplicate, open) is merged into `into` (open, same requester): its comments and "
        "attachments move there, it is closed with a `merged` event and `merged_into` set, and the customer gets "
        "one message naming the primary. Answers the closed duplicate.",
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        ticket = self.get_ticket()
        data = self.parse(MergeInput)
        return self.changed_response(lambda: services.ticket_merge(
            actor=actor_for(request), ticket_id=ticket.pk, into_id=data["into"], version=data.get("version")))

    @extend_schema(
        methods=["GET"],
        summary="List linked tickets",
        responses={200: LinkedTicketSerializer(many=True), **errors(401, 403, 404, 429)},
        tags=["links"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Link a related ticket",
        description="Links the two tickets (an unordered pair) with a `linked` event on both; answers the links.",
        request=LinkInput,
        responses={201: LinkedTicketSerializer(many=True), **errors(400, 401, 403, 404, 409, 429)},
        examples=[CONFLICT_EXAMPLE, STALE_EXAMPLE],
        tags=["links"],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def links(self, request, pk=None):
        ticket = self.get_ticket()
        created = request.method == "POST"
        if created:
            data = self.parse(LinkInput)
            services.ticket_link(actor=actor_for(request), ticket_id=ticket.pk, other_id=data["ticket"],
                                 version=data.get("version"))
        return Response(LinkedTicketSerializer(linked_tickets(ticket.pk), many=True).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Unlink a related ticket",
        description="Removes the link, with an `unlinked` event on both tickets.",
        parameters=[OpenApiParameter("version", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                                     description="The version of the ticket in the URL you last read.")],
        request=None,
        responses={204: None, **errors(400, 401, 403, 404, 409, 429)},
        examples=[CONFLICT_EXAMPLE],
        tags=["links"],
    )
    @action(detail=True, methods=["delete"], url_path=r"links/(?P<other_id>[0-9]{1,18})", url_name="link-detail",
            filter_backends=[], pagination_class=None)
    def unlink(self, request, pk=None, other_id=None):
        ticket = self.get_ticket()
        data = self.parse_query(VersionInput)
        services.ticket_unlink(actor=actor_for(request), ticket_id=ticket.pk, other_id=int(other_id),
                               version=data.get("version"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action_schema("Add and remove tags", TagInput,
                   "Names are trimmed and lower-cased; at most 40 characters, no commas, 20 tags per ticket.")
    @action(detail=True, methods=["post"], url_path="tags", url_name="tags")
    def tag(self, request, pk=None):
        ticket = self.get_ticket()
        data = self.parse(TagInput)
        return self.changed_response(lambda: services.ticket_tag(
            actor=actor_for(request), ticket_id=ticket.pk, add=data["add"], remove=data["remove"],
            version=data.get("version")))

    def parse_query(self, serializer_class):
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @bulk_api.SCHEMA
    @action(detail=False, methods=["post"], url_path="bulk", url_name="bulk", filter_backends=[],
            pagination_class=None)
    def bulk(self, request):
        return bulk_api.respond(request, actor_for(request))

    # --- sub-resources --------------------------------------------------------

    def paginate_timeline(self, queryset, serializer_class):
        paginator = TimelineCursor()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="List comments",
        responses={200: CommentSerializer(many=True), **errors(401, 403, 404, 429)},
        tags=["comments"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a public reply or an internal note",
        request=CommentInput,
        responses={201: CommentSerializer, **errors(400, 401, 403, 404, 409, 429)},
        tags=["comments"],
    )
    @action(detail=True, methods=["get", "post"], pagination_class=TimelineCursor, filter_backends=[])
    def comments(self, request, pk=None):
        ticket = self.get_ticket()
        if request.method == "GET":
            return self.paginate_timeline(
                ticket.comments.select_related("author", "author_requester"), CommentSerializer
            )
        data = self.parse(CommentInput)
        comment = services.comment_add(actor=actor_for(request), ticket_id=ticket.pk, **data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="List attachments",
        responses={200: AttachmentSerializer(many=True), **errors(401, 403, 404, 429)},
        tags=["attachments"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Upload an attachment",
        description="multipart/form-data with one `file`. Limits: size (10 MB by default) and type "
        "(documents, images, logs, archives; never HTML, SVG or scripts).",
        request={"multipart/form-data": AttachmentInput},
        responses={201: AttachmentSerializer, **errors(400, 401, 403, 404, 409, 413, 429)},
        tags=["attachments"],
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser],
            pagination_class=TimelineCursor, filter_backends=[])
    def attachments(self, request, pk=None):
        ticket = self.get_ticket()
        if request.method == "GET":
            return self.paginate_timeline(ticket.attachments.all(), AttachmentSerializer)
        data = self.parse(AttachmentInput)
        attachment = services.attachment_add(actor=actor_for(request), ticket_id=ticket.pk, upload=data["file"])
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Download an attachment",
        description="Always sent as a download (`Content-Disposition: attachment`), never shown inline.",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **errors(401, 403, 404, 429)},
        tags=["attachments"],
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]{1,18})/download",
            url_name="attachment-download", filter_backends=[], pagination_class=None)
    def attachment_download(self, request, pk=None, attachment_id=None):
        ticket = self.get_ticket()
        attachment = Attachment.objects.filter(ticket=ticket, pk=attachment_id).first()
        if attachment is None:
            raise TicketError(TicketError.NOT_FOUND, "No such attachment.")
        return download_response(attachment)

    @extend_schema(
        summary="The ticket's timeline",
        description="Every event, oldest first. Metrics are computed from exactly these events.",
        responses={200: EventSerializer(many=True), **errors(401, 403, 404, 429)},
        tags=["tickets"],
    )
    @action(detail=True, methods=["get"], pagination_class=TimelineCursor, filter_backends=[])
    def events(self, request, pk=None):
        ticket = self.get_ticket()
        return self.paginate_timeline(
            ticket.events.select_related("actor", "actor_requester", "from_tier", "to_tier"), EventSerializer
        )


@extend_schema(tags=["reference data"], responses={200: TierSerializer(many=True), **errors(401, 403, 429)})
class TierViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TierSerializer
    queryset = Tier.objects.order_by("level")
    filter_backends = []


@extend_schema(tags=["reference data"], responses={200: CategorySerializer(many=True), **errors(401, 403, 429)})
class CategoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CategorySerializer
    queryset = Category.objects.order_by("name")
    filter_backends = []
