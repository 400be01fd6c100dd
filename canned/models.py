"""Canned replies: texts an agent inserts into the reply box, with placeholders filled in for the ticket.

A reply is either personal (it has an `owner`) or tier-wide (it has a `tier`), never both and never neither:
a check constraint holds that in the database. Nothing here is written outside `canned.services`.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tiers.models import Tier


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), help_text=_("Plain text; placeholders such as {{ requester.name }} are "
                                                   "filled in for the ticket."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="canned_replies", verbose_name=_("owner"),
                              help_text=_("Set for a personal reply."))
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_replies",
                             verbose_name=_("tier"), help_text=_("Set for a reply shared by a whole tier."))
    # Blank: meant for customers of any language.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False, tier__isnull=True) | Q(owner__isnull=True, tier__isnull=False),
                name="canned_reply_personal_xor_tier",
            )
        ]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self):
        return self.title

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None
