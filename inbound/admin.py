"""Admin for inbound mail: the log of every message and the quarantine (filter by outcome), read-only.

A quarantined message can be retried once its reason is dealt with (say the
requester's address was corrected), and its raw bytes downloaded as an .eml
file — never shown as HTML.
"""
import io

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inbound.models import InboundMessage, MailboxState
from inbound.services import retry
from tickets.admin import ReadOnlyMixin
from tickets.attachments import as_download

PREVIEW_BYTES = 20_000


class QuarantineFilter(admin.SimpleListFilter):
    title = _("quarantine")
    parameter_name = "quarantine"

    def lookups(self, request, model_admin):
        return [("yes", _("in quarantine"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(outcome=InboundMessage.Outcome.QUARANTINED)
        return queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["received_at", "sender", "subject", "outcome", "ticket_link", "reason", "source"]
    list_filter = [QuarantineFilter, "outcome", "source"]
    list_select_related = ["ticket"]
    search_fields = ["sender", "subject", "message_id"]
    date_hierarchy = "received_at"
    actions = ["retry_selected"]
    fields = ["received_at", "source", "mailbox", "uidvalidity", "uid", "message_id", "sender", "subject", "outcome",
              "reason", "ticket", "comment", "size", "complete", "raw_download", "raw_preview"]
    readonly_fields = fields

    @admin.display(description=_("ticket"), ordering="ticket_id")
    def ticket_link(self, obj):
        if obj.ticket_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("desk:ticket", args=[obj.ticket_id]), obj.ticket.reference)

    @admin.display(description=_("raw message"))
    def raw_download(self, obj):
        url = reverse("admin:inbound_inboundmessage_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download (.eml)"))

    @admin.display(description=_("beginning of the raw message"))
    def raw_preview(self, obj):
        # Shown as escaped text in a <pre>: whatever the message holds is never rendered.
        text = bytes(obj.raw[:PREVIEW_BYTES]).decode("utf-8", errors="replace")
        return format_html('<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto">{}</pre>', text)

    def has_retry_permission(self, request):
        return request.user.has_perm("inbound.change_inboundmessage")

    @admin.action(description=_("Retry the selected quarantined messages"), permissions=["retry"])
    def retry_selected(self, request, queryset):
        quarantined = list(queryset.filter(outcome=InboundMessage.Outcome.QUARANTINED, complete=True))
        routed = sum(retry(record).outcome != InboundMessage.Outcome.QUARANTINED for record in quarantined)
        self.message_user(request, ngettext(
            "%(routed)d of %(count)d message left the quarantine.",
            "%(routed)d of %(count)d messages left the quarantine.",
            len(quarantined),
        ) % {"routed": routed, "count": len(quarantined)}, messages.SUCCESS if routed else messages.WARNING)

    def get_urls(self):
        raw = path("<int:pk>/raw/", self.admin_site.admin_view(self.raw_view), name="inbound_inboundmessage_raw")
        return [raw, *super().get_urls()]

    def raw_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = get_object_or_404(InboundMessage, pk=pk)
        return as_download(io.BytesIO(bytes(record.raw)), f"message-{record.pk}.eml")


@admin.register(MailboxState)
class MailboxStateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["mailbox", "uidvalidity", "last_uid", "polled_at"]
