"""Admin for notifications: the mail log, read-only (status, attempts, last error)."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from notifications.models import Notification
from tickets.admin import ReadOnlyMixin
from tickets.models import format_reference, parse_reference


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "ticket_reference", "template", "recipient", "language", "status", "attempts",
                    "next_attempt_at", "sent_at", "last_error", "created_at"]
    list_filter = ["status", "template", "language"]
    list_select_related = ["event"]
    search_fields = ["recipient"]
    date_hierarchy = "created_at"
    fields = ["event", "template", "recipient", "language", "status", "attempts", "next_attempt_at", "sent_at",
              "last_error", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("ticket"), ordering="event__ticket_id")
    def ticket_reference(self, obj):
        return format_reference(obj.event.ticket_id)

    def get_search_results(self, request, queryset, search_term):
        """A ticket reference (HD-000123) finds that ticket's notifications; anything else searches addresses."""
        ticket_id = parse_reference(search_term)
        if ticket_id is not None:
            return queryset.filter(event__ticket_id=ticket_id), False
        return super().get_search_results(request, queryset, search_term)
