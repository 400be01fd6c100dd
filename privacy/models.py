"""The audit log of personal data: who viewed, exported or anonymised a customer's data, when and from where.

An `AccessRecord` is written by `privacy.audit` from the pages that show one ticket or one requester to staff,
and by the export and anonymisation services. Like the ticket event log it is append-only: the queryset and the
model refuse changes and deletions, and on PostgreSQL a trigger refuses them for raw SQL too (migration 0001).
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    VIEWED_TICKET = "viewed_ticket", _("viewed a ticket")
    VIEWED_REQUESTER = "viewed_requester", _("viewed a requester")
    EXPORTED = "exported", _("exported a requester's data")
    ANONYMISED = "anonymised", _("anonymised a requester")


class Channel(models.TextChoices):
    DESK = "desk", _("agent desk")
    API = "api", _("API")
    ADMIN = "admin", _("administration")
    COMMAND = "command", _("command line")


class AccessRecordQuerySet(models.QuerySet):
    """Access records are append-only: nothing may change or delete them."""

    def update(self, **kwargs):
        raise ValidationError("Access records are append-only and cannot be changed.")

    def delete(self):
        raise ValidationError("Access records are append-only and cannot be deleted.")

    delete.queryset_only = True


class AccessRecord(models.Model):
    """One look at (or one export or anonymisation of) a customer's personal data by a staff user."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    # PROTECT: staff users are deactivated, never deleted, while the log names them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False,
                             verbose_name=_("user"))
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    requester = models.ForeignKey("tickets.Requester", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", db_index=False, verbose_name=_("requester"))
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               db_index=False, verbose_name=_("ticket"))
    # The address the request came from (REMOTE_ADDR, as the rate limits see it); empty for the command line.
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    # Why a manager anonymised a requester (the person's name and address are taken out of it).
    reason = models.TextField(_("reason"), blank=True)

    objects = AccessRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("access to personal data")
        verbose_name_plural = _("access to personal data")
        # The questions an audit asks: what happened lately, what did this user look at, who looked at this
        # person or this ticket. Four small indexes are the price of one INSERT per page view.
        indexes = [
            models.Index(fields=["at"], name="access_at"),
            models.Index(fields=["user", "at"], name="access_user_at"),
            models.Index(fields=["requester", "at"], condition=Q(requester__isnull=False), name="access_requester_at"),
            models.Index(fields=["ticket", "at"], condition=Q(ticket__isnull=False), name="access_ticket_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=Action.values), name="access_action_valid"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="access_channel_valid"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Access records are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Access records are append-only and cannot be deleted.")
