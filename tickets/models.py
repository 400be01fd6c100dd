"""Tickets, the people who open them, and the append-only event log.

Nothing here changes a ticket's state: `tickets.services` is the only writer.
"""
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from tickets.workflow import EventKind, Status
from tiers.models import Priority, Tier
from tiers.roles import Role

REFERENCE_PREFIX = "HD-"


class Channel(models.TextChoices):
    WEB = "web", _("web form")
    EMAIL = "email", _("e-mail")
    PHONE = "phone", _("phone")
    API = "api", _("API")


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self):
        return self.name


class Requester(models.Model):
    """A customer who reports problems. Identified by e-mail; no account needed."""

    email = models.EmailField(_("e-mail"), unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    # E-mails to the customer are written in the language of their last contact.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["email"]
        verbose_name = _("requester")
        verbose_name_plural = _("requesters")

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email


class Ticket(models.Model):
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("tier"))
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, default=Priority.P3)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets", verbose_name=_("category")
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.WEB)
    requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("requester")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
        help_text=_("The agent who entered the ticket on the customer's behalf (phone), if any."),
    )
    # Bumped by every change; a write that names an older version is refused.
    version = models.PositiveIntegerField(_("version"), default=1)

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # Business time from creation to the last resolution, in microseconds, in the calendar of the tier and
    # priority at that moment (kept for the metrics; None while not resolved or without a policy).
    resolve_business_us = models.BigIntegerField(_("business time to resolve (µs)"), null=True, blank=True,
                                                 editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("response due at"), null=True, blank=True)
    escalation_due_at = models.DateTimeField(_("escalation due at"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due at"), null=True, blank=True)
    # SLA bookkeeping (tickets.deadlines): the 80 % warning points, the pause,
    # which warnings/breaches were recorded, and the next point to check.
    response_warn_at = models.DateTimeField(_("response warning at"), null=True, blank=True)
    escalation_warn_at = models.DateTimeField(_("escalation warning at"), null=True, blank=True)
    resolution_warn_at = models.DateTimeField(_("resolution warning at"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused at"), null=True, blank=True)
    sla_paused = models.DurationField(_("SLA time paused"), default=timedelta(0))
    sla_flags = models.PositiveSmallIntegerField(_("SLA warnings and breaches recorded"), default=0)
    sla_next_check_at = models.DateTimeField(_("next SLA check at"), null=True, blank=True)

    # Step 1, diagnose: travels with the ticket when it is escalated.
    affected_item = models.CharField(_("affected item"), max_length=200, blank=True)
    steps_before = models.TextField(_("steps before the fault"), blank=True)
    findings = models.TextField(_("findings"), blank=True)
    # Step 2, resolve.
    resolution_summary = models.TextField(_("resolution summary"), blank=True)
    # The status to return to when a `waiting` ticket resumes.
    waiting_from = models.CharField(_("waiting from"), max_length=16, choices=Status.choices, blank=True)

    # Subject, description and every comment, for full-text search (GIN index
    # on PostgreSQL, migration 0005); kept up to date by the services.
    search_text = models.TextField(_("search text"), blank=True, editable=False)
    # The customer's private tracking link (tickets.portal.tokens): a random
    # salt, and the SHA-256 of the token for lookup. The token is never stored.
    tracking_salt = models.CharField(max_length=32, blank=True, editable=False)
    tracking_token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    reopen_count = models.PositiveIntegerField(_("reopen count"), default=0)
    repeat_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="repeats", verbose_name=_("repeat of")
    )
    # A duplicate merged into another ticket (tickets.merge): closed, its thread moved to that ticket.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_tickets",
        verbose_name=_("merged into"),
    )
    # Free tags (tickets.tags): normalised names, changed only through `ticket_tag`.
    tags = models.ManyToManyField("Tag", blank=True, related_name="tickets", verbose_name=_("tags"))
    # Step 3, close: the customer's satisfaction.
    csat_rating = models.PositiveSmallIntegerField(_("satisfaction rating"), null=True, blank=True)
    csat_comment = models.TextField(_("satisfaction comment"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # A tier's queue: open tickets of one tier, newest first.
            models.Index(fields=["tier", "status", "-created_at"], name="ticket_tier_queue"),
            # "My tickets": an agent's open work.
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            # "All tickets", newest first, and period filters.
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            # Repeat detection and the desk's "other tickets of this requester": their latest tickets.
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_created"),
            # The SLA sweep: only tickets with a pending warning or deadline.
            models.Index(
                fields=["sla_next_check_at", "id"], condition=Q(sla_next_check_at__isnull=False), name="ticket_sla_due"
            ),
            # Auto-close looks only at resolved tickets.
            models.Index(fields=["resolved_at"], condition=Q(status="resolved"), name="ticket_resolved_open"),
            # Metrics: tickets resolved or closed in a period, and the open backlog by tier and status.
            models.Index(fields=["resolved_at"], name="ticket_resolved_at"),
            models.Index(fields=["closed_at"], name="ticket_closed_at"),
            models.Index(fields=["tier", "status", "category", "assignee", "created_at"],
                         condition=Q(status__in=("new", "diagnosing", "resolving", "waiting")), name="ticket_backlog"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat_rating__isnull=True) | Q(csat_rating__gte=1, csat_rating__lte=5),
                name="ticket_csat_1_to_5",
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="ticket_priority_valid"),
        ]

    def __str__(self):
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self):
        return reverse("desk:ticket", args=[self.pk])

    @property
    def reference(self) -> str:
        """The public reference, e.g. HD-000123 (derived from the id, never stored)."""
        return format_reference(self.pk)

    @property
    def is_open(self) -> bool:
        return self.status not in (Status.RESOLVED, Status.CLOSED)


def format_reference(pk: int | None) -> str:
    return f"{REFERENCE_PREFIX}{pk:06d}" if pk is not None else ""


def parse_reference(text: str) -> int | None:
    """The ticket id in a reference like ``HD-000123`` (case-insensitive), or None."""
    text = (text or "").strip().upper()
    if not text.startswith(REFERENCE_PREFIX):
        return None
    digits = text[len(REFERENCE_PREFIX) :]
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


class EventQuerySet(models.QuerySet):
    """Events are append-only. Only the outbox marker may change after insert."""

    MUTABLE_FIELDS = frozenset({"dispatched_at"})

    def update(self, **kwargs):
        frozen = set(kwargs) - self.MUTABLE_FIELDS
        if frozen:
            raise ValidationError(f"Events are append-only; cannot update {sorted(frozen)}.")
        return super().update(**kwargs)

    def delete(self):
        raise ValidationError("Events are append-only and cannot be deleted.")

    delete.queryset_only = True


class Event(models.Model):
    """One change of a ticket: audit trail, notification outbox and metric source at once."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=24, choices=EventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("customer")
    )
    actor_role = models.CharField(_("actor role"), max_length=16, choices=Role.choices)
    from_status = models.CharField(_("from status"), max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=16, choices=Status.choices, blank=True)
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from tier")
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("to tier")
    )
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    # Outbox marker: set once the event was handed to every subscriber.
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["ticket", "at", "id"], name="event_timeline"),
            models.Index(fields=["kind", "at"], name="event_kind_at"),
            # The outbox drain scans only what was not dispatched yet.
            models.Index(fields=["id"], condition=Q(dispatched_at__isnull=True), name="event_outbox"),
        ]

    def __str__(self):
        return f"{format_reference(self.ticket_id)} {self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Events are append-only and cannot be deleted.")

    @property
    def call(self) -> dict | None:
        """The phone call a ticket was opened for (its start and length in minutes), on the `created` event."""
        call = (self.data or {}).get("call") if isinstance(self.data, dict) else None
        if not call:
            return None
        return {"started_at": parse_datetime(call.get("started_at") or ""), "minutes": call.get("minutes")}

    @property
    def actor_display(self) -> str:
        if self.actor_id:
            return self.actor.get_username()
        if self.actor_requester_id:
            return self.actor_requester.email
        return str(self.get_actor_role_display())


class Comment(models.Model):
    """A public reply (seen by the customer) or an internal note (agents only)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="comments", verbose_name=_("ticket"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    author_requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("customer")
    )
    author_role = models.CharField(_("author role"), max_length=16, choices=Role.choices)
    body = models.TextField(_("text"))
    internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="comment_thread")]

    def __str__(self):
        return f"{format_reference(self.ticket_id)} #{self.pk}"


def attachment_path(instance, filename) -> str:
    """Stored under a name the server makes: the customer's file name never reaches the file system."""
    return f"attachments/{instance.ticket_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("ticket"))
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_by_requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="attachment_ticket")]

    def __str__(self):
        return self.original_name


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for ticket creation: a retry gets the same ticket, never a second one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]

    def __str__(self):
        return self.key


class PortalLink(models.Model):
    """A single-use sign-in link to a customer's "my tickets" page (only the token's SHA-256 is kept)."""

    requester = models.ForeignKey(Requester, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.requester} until {self.expires_at:%Y-%m-%d %H:%M}"


class BacklogChange(models.Model):
    """The open-ticket counts per tier and status, kept as a ledger: the services add a row for every change of
    an open ticket's tier or status in the same transaction (+1 where it goes, -1 where it was), so the desk's
    summary sums a few rows instead of counting the backlog. Rows are only inserted, never updated, so
    concurrent writers never wait on each other here; `tickets.backlog.compact` folds them into one row per
    cell from time to time."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=16, choices=Status.choices)
    delta = models.IntegerField()

    class Meta:
        verbose_name = _("backlog change")
        verbose_name_plural = _("backlog changes")

    def __str__(self):
        return f"tier {self.tier_id} {self.status} {self.delta:+d}"


class Tag(models.Model):
    """A free tag on tickets. Names are normalised (trimmed, lower case, no commas, at most 40 characters) by
    `tickets.tags.normalise`, so one spelling is one tag."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            # The services store lower case only; this keeps a hand-made "VPN" from ever sitting beside "vpn".
            models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique"),
        ]

    def __str__(self):
        return self.name


class TicketLink(models.Model):
    """Two tickets an agent marked as related (`tickets.links`). The pair is unordered: it is stored with the
    lower id first, so A–B and B–A are the same row."""

    class Kind(models.TextChoices):
        RELATED = "related", _("related")

    ticket_a = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket"))
    ticket_b = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.RELATED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")
        constraints = [
            models.UniqueConstraint(fields=["ticket_a", "ticket_b"], name="ticket_link_pair_unique"),
            models.CheckConstraint(condition=Q(ticket_a__lt=F("ticket_b")), name="ticket_link_ordered_pair"),
        ]
        indexes = [models.Index(fields=["ticket_b"], name="ticket_link_b")]

    def __str__(self):
        return f"{format_reference(self.ticket_a_id)} ~ {format_reference(self.ticket_b_id)}"
