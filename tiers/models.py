"""Support tiers and which agents work in them."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    """A support level: L1 takes first contact, L2 and L3 take what the level below could not solve."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), unique=True)
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="TierMembership",
        related_name="tiers",
        blank=True,
        verbose_name=_("members"),
    )

    class Meta:
        ordering = ["level"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self):
        return self.code

    def next_up(self) -> "Tier | None":
        return Tier.objects.filter(level__gt=self.level).order_by("level").first()

    def next_down(self) -> "Tier | None":
        return Tier.objects.filter(level__lt=self.level).order_by("-level").first()


class TierMembership(models.Model):
    """An agent may act on tickets at the tiers they are a member of (and read all tiers)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tier"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tier_memberships", verbose_name=_("agent")
    )
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tier", "user"], name="tier_membership_unique")]
        verbose_name = _("tier membership")
        verbose_name_plural = _("tier memberships")

    def __str__(self):
        return f"{self.user} @ {self.tier}"
