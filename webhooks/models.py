"""Registered webhooks, the deliveries queued for them, and every attempt made.

A `Delivery` is the unit of work: one event for one webhook, created once
(unique pair) by the outbox subscriber and retried from the database, never
from the broker. `Attempt` rows are the delivery log; they hold the outcome
only, never the secret, the signature or any request header.
"""
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Event

SECRET_BYTES = 32
ERROR_MAX_LENGTH = 500


def new_secret() -> str:
    """A fresh signing secret: 256 bits from the OS CSPRNG, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


class Webhook(models.Model):
    url = models.URLField(_("URL"), max_length=2000)
    # The HMAC key. It has to be stored in the clear to sign; it is shown to
    # the caller once, in the response that registered the webhook.
    secret = models.CharField(_("secret"), max_length=64, default=new_secret, editable=False)
    # Event kinds wanted; an empty list means every kind.
    kinds = models.JSONField(_("event kinds"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self):
        return f"#{self.pk} {self.url}"

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook"))
    # Events are never deleted; PROTECT states that a delivery needs its event.
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+", verbose_name=_("event"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # An event is queued at most once per webhook, even if the outbox runs its subscribers again.
            models.UniqueConstraint(fields=["webhook", "event"], name="delivery_once_per_webhook"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="delivery_status_valid"
            ),
        ]
        indexes = [
            # The retry sweep reads only pending deliveries, oldest due first.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="delivery_due"),
        ]

    def __str__(self):
        return f"{self.webhook_id}/{self.event_id} {self.status}"


class Attempt(models.Model):
    """One HTTP attempt: when, what the receiver answered, how long it took, or why it failed."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    error = models.CharField(_("error"), max_length=ERROR_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")

    def __str__(self):
        return f"{self.delivery_id} @ {self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"
