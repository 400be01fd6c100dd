"""Admin for webhooks: inspect registrations and the delivery log, read-only.

Webhooks are registered and removed through the API, which checks the URL
against the SSRF guard and shows the secret once. The admin never displays
the secret. Deliveries and their attempts are a log.
"""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tickets.admin import ReadOnlyMixin
from webhooks.models import Attempt, Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "url", "kinds", "is_active", "created_by", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["created_by"]
    search_fields = ["url"]
    # `secret` is deliberately absent from every list of fields.
    fields = ["url", "kinds", "is_active", "created_by", "created_at"]
    readonly_fields = fields


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = Attempt
    fields = ["at", "status_code", "duration_ms", "error"]
    readonly_fields = fields
    extra = 0
    ordering = ["at", "id"]
    verbose_name_plural = _("attempts")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "webhook", "event", "status", "attempts", "next_attempt_at", "delivered_at", "created_at"]
    list_filter = ["status", "webhook"]
    list_select_related = ["webhook", "event"]
    fields = ["webhook", "event", "status", "attempts", "next_attempt_at", "delivered_at", "created_at"]
    readonly_fields = fields
    inlines = [AttemptInline]
