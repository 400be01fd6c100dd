"""Every e-mail that reached the support address, and how far each mailbox has been read.

An `InboundMessage` is written in the same transaction as the ticket or
comment it produced, so a message is either fully processed or not recorded
at all. It is unique by its Message-ID (or a digest of its bytes when it has
none) and by its mailbox UID, which is what makes a poll that is cut off and
run again harmless. The raw bytes are kept, so nothing that could not be
processed is lost: it waits in the quarantine, in the admin.
"""
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tickets.models import Comment, Ticket

REASON_MAX_LENGTH = 500


class InboundMessage(models.Model):
    class Outcome(models.TextChoices):
        OPENED = "opened", pgettext_lazy("inbound mail outcome", "opened a ticket")
        REPLIED = "replied", pgettext_lazy("inbound mail outcome", "added to a ticket")
        IGNORED = "ignored", pgettext_lazy("inbound mail outcome", "ignored (automatic mail)")
        QUARANTINED = "quarantined", pgettext_lazy("inbound mail outcome", "quarantined")

    class Source(models.TextChoices):
        IMAP = "imap", _("IMAP mailbox")
        WEBHOOK = "webhook", _("mail service webhook")
        COMMAND = "command", _("command line")

    # The Message-ID, or "sha256:<digest of the bytes>" for a message without one.
    key = models.CharField(_("key"), max_length=300, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    mailbox = models.CharField(_("mailbox"), max_length=300, blank=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True)
    uid = models.BigIntegerField(_("UID"), null=True, blank=True)
    sender = models.CharField(_("sender"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    # Why it was ignored or quarantined, and what was left out (refused files).
    reason = models.CharField(_("reason"), max_length=REASON_MAX_LENGTH, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("ticket")
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("comment")
    )
    raw = models.BinaryField(_("raw message"))
    # False when only part of the message was kept (too large to take in): it can never be routed.
    complete = models.BooleanField(_("complete"), default=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], condition=Q(uid__isnull=False), name="inbound_uid_once"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["opened", "replied", "ignored", "quarantined"]),
                name="inbound_outcome_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["outcome", "-received_at"], name="inbound_outcome"),
            # Mail storms: how many tickets one sender opened lately.
            models.Index(fields=["sender", "-received_at"], name="inbound_sender"),
        ]

    def __str__(self):
        return f"{self.sender}: {self.subject} ({self.get_outcome_display()})"


class MailboxState(models.Model):
    """The highest UID processed in one IMAP folder, valid while the folder's UIDVALIDITY stays the same."""

    mailbox = models.CharField(_("mailbox"), max_length=300, unique=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), default=0)
    last_uid = models.BigIntegerField(_("last UID"), default=0)
    polled_at = models.DateTimeField(_("polled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mailbox state")
        verbose_name_plural = _("mailbox states")

    def __str__(self):
        return f"{self.mailbox} (UID {self.last_uid})"
