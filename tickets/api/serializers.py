"""API serializers: output shapes of the product contract, and one explicit input serializer per write."""
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.deadlines import breaches
from tickets.models import Attachment, Category, Channel, Comment, Event, Priority, Ticket
from tickets.workflow import Status
from tiers.models import Tier

# --- output -----------------------------------------------------------------


class RequesterSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True, max_length=200, required=False, default="")


class DiagnosisSerializer(serializers.Serializer):
    affected_item = serializers.CharField(help_text="Which hardware or program fails.")
    steps_before = serializers.CharField(help_text="What was done before the fault.")
    findings = serializers.CharField(help_text="What the diagnosis found.")


class ResolutionSerializer(serializers.Serializer):
    summary = serializers.CharField()


class CsatSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(allow_blank=True)


class SlaSerializer(serializers.Serializer):
    breached = serializers.ListField(
        child=serializers.ChoiceField(choices=["response", "escalation", "resolution"]),
        help_text="Clocks whose deadline was missed.",
    )
    paused = serializers.BooleanField(help_text="True while the ticket waits for the customer.")
    paused_seconds = serializers.FloatField(help_text="Working time spent waiting so far.")
    next_check_at = serializers.DateTimeField(allow_null=True, help_text="When the SLA sweep next looks at it.")


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as the API shows it."""

    reference = serializers.CharField(read_only=True, help_text="The public reference, e.g. HD-000123.")
    tier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    requester = RequesterSerializer(read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    diagnosis = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()
    csat = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(many=True, slug_field="name", read_only=True,
                                        help_text="Free tags, lower case, sorted by name.")
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                     help_text="The ticket this duplicate was merged into.")

    class Meta:
        model = Ticket
        fields = [
            "id", "reference", "subject", "description", "status", "tier", "priority", "category", "channel",
            "requester", "assignee", "version", "created_at", "updated_at", "first_response_at", "resolved_at",
            "closed_at", "response_due_at", "escalation_due_at", "resolution_due_at", "diagnosis", "resolution",
            "reopen_count", "repeat_of", "csat", "sla", "tags", "merged_into",
        ]
        read_only_fields = fields

    @extend_schema_field(DiagnosisSerializer)
    def get_diagnosis(self, ticket):
        return {"affected_item": ticket.affected_item, "steps_before": ticket.steps_before, "findings": ticket.findings}

    @extend_schema_field(ResolutionSerializer)
    def get_resolution(self, ticket):
        return {"summary": ticket.resolution_summary}

    @extend_schema_field(CsatSerializer(allow_null=True))
    def get_csat(self, ticket):
        if ticket.csat_rating is None:
            return None
        return {"rating": ticket.csat_rating, "comment": ticket.csat_comment}

    @extend_schema_field(SlaSerializer)
    def get_sla(self, ticket):
        return {
            "breached": breaches(ticket, timezone.now()),
            "paused": ticket.status == Status.WAITING,
            "paused_seconds": ticket.sla_paused.total_seconds(),
            "next_check_at": ticket.sla_next_check_at,
        }


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "body", "internal", "author", "author_role", "created_at"]
        read_only_fields = fields

    def get_author(self, comment) -> str:
        if comment.author_id:
            return comment.author.get_username()
        return comment.author_requester.email if comment.author_requester_id else ""


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "created_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        return reverse("api:ticket-attachment-download", args=[attachment.ticket_id, attachment.pk])


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_display")
    # Blank where there is no status before (created) or the event is not a move.
    from_status = serializers.ChoiceField(choices=Status.choices, allow_blank=True, read_only=True)
    to_status = serializers.ChoiceField(choices=Status.choices, allow_blank=True, read_only=True)
    from_tier = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    to_tier = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "kind", "at", "actor", "actor_role", "from_status", "to_status", "from_tier", "to_tier",
                  "reason", "data"]
        read_only_fields = fields


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["code", "name", "level", "description"]
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "description", "is_active"]
        read_only_fields = fields


# --- input ------------------------------------------------------------------


class VersionInput(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1,
        help_text="The version you last read; the change is refused with 409 if the ticket changed since.",
    )


class CategoryField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Category.objects.filter(is_active=True), **kwargs)


class TicketCreateInput(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000)
    requester = RequesterSerializer()
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.P3)
    category = CategoryField(required=False, allow_null=True, default=None)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)


class TicketUpdateInput(VersionInput):
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20000, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = CategoryField(required=False, allow_null=True)


class DiagnoseInput(VersionInput):
    affected_item = serializers.CharField(max_length=200, required=False, allow_blank=True)
    steps_before = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    findings = serializers.CharField(max_length=20000, required=False, allow_blank=True)


class ResolveInput(DiagnoseInput):
    summary = serializers.CharField(max_length=20000, help_text="What fixed it.")


class ReasonInput(VersionInput):
    reason = serializers.CharField(max_length=2000)


class OptionalReasonInput(VersionInput):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DeEscalateInput(ReasonInput):
    defect = serializers.BooleanField(default=False, help_text="The escalation should not have happened.")


class CloseInput(VersionInput):
    csat = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, default=None)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AssignInput(VersionInput):
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=Ticket._meta.get_field("assignee").related_model.objects.filter(is_active=True)
    )


class CommentInput(VersionInput):
    body = serializers.CharField(max_length=20000)
    internal = serializers.BooleanField(default=False)


class MergeInput(VersionInput):
    into = serializers.CharField(max_length=30, help_text="The primary ticket: its id or reference (HD-000123).")


class LinkInput(VersionInput):
    ticket = serializers.CharField(max_length=30, help_text="The related ticket: its id or reference.")


class TagInput(VersionInput):
    add = serializers.ListField(child=serializers.CharField(max_length=200, allow_blank=True), required=False,
                                default=list, max_length=50, help_text="Tag names to add (normalised).")
    remove = serializers.ListField(child=serializers.CharField(max_length=200, allow_blank=True), required=False,
                                   default=list, max_length=50, help_text="Tag names to remove.")


class LinkedTicketSerializer(serializers.ModelSerializer):
    """A ticket linked to another one, as the links list shows it."""

    reference = serializers.CharField(read_only=True)
    kind = serializers.CharField(source="link.kind", read_only=True)
    linked_at = serializers.DateTimeField(source="link.created_at", read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "reference", "subject", "status", "kind", "linked_at"]
        read_only_fields = fields


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
