"""Who has a ticket page open right now, and whether they are typing a reply.

One row per ticket × agent, overwritten by every heartbeat of the page. It is
not history: rows older than a few minutes mean nothing and are deleted.
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket


class Presence(models.Model):
    """An agent's ticket page was open at `seen_at`; `typing` says whether they were writing in the reply box."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    typing = models.BooleanField(_("typing"), default=False)
    seen_at = models.DateTimeField(_("seen at"))

    class Meta:
        verbose_name = _("presence")
        verbose_name_plural = _("presences")
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="presence_one_per_ticket_user")]
        # The purge deletes by age across all tickets; the page reads one ticket's rows through the unique index.
        indexes = [models.Index(fields=["seen_at"], name="presence_seen_at")]

    def __str__(self):
        return f"{self.user_id} on {self.ticket_id}"
