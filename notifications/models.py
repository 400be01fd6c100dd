"""E-mail notifications: one row per mail, which is also its queue entry.

A `Notification` is one e-mail to one recipient about one event, written by
the outbox subscriber (`notifications.handlers`) and sent by a worker
(`notifications.delivery`). It stores what to send and to whom, never the
rendered text: the mail is rendered when it is sent, in the recipient's
language. Rows are kept as the log of what was sent.
"""
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tickets.models import Event

ERROR_MAX_LENGTH = 300


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("notification status", "pending")
        SENT = "sent", pgettext_lazy("notification status", "sent")
        FAILED = "failed", pgettext_lazy("notification status", "failed")

    # Events are never deleted; PROTECT states that a notification needs its event.
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+", verbose_name=_("event"))
    recipient = models.EmailField(_("recipient"))
    language = models.CharField(_("language"), max_length=8)
    template = models.CharField(_("template"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Why the last attempt failed, in a few words: never a password, token or link.
    last_error = models.CharField(_("last error"), max_length=ERROR_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            # An event is mailed at most once to one address with one template,
            # even if the outbox runs its subscribers again.
            models.UniqueConstraint(fields=["event", "recipient", "template"], name="notification_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]), name="notification_status_valid"
            ),
        ]
        indexes = [
            # The retry sweep reads only pending notifications, oldest due first.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="notification_due"),
        ]

    def __str__(self):
        return f"{self.template} → {self.recipient} ({self.status})"
