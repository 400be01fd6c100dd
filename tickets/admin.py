"""Admin for tickets: categories and requesters are editable; tickets and events are read-only.

A ticket's state changes only through `tickets.services`, so the admin shows
tickets with their full timeline but offers no way to edit, add or delete them.
"""
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy import audit
from tickets.deadlines import CLOCK_LABELS, breaches
from tickets.models import Category, Comment, Event, Requester, Ticket, parse_reference
from tickets.workflow import Status


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Requester)
class RequesterAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "created_at"]
    search_fields = ["email", "name"]
    readonly_fields = ["created_at"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return _recorded(request, super().change_view(request, object_id, form_url, extra_context))


def _recorded(request, response):
    """A change page that showed a requester or a ticket is noted in the access log (privacy.audit)."""
    shown = getattr(response, "context_data", None) or {}
    original = shown.get("original")
    if request.method == "GET" and response.status_code == 200 and original is not None:
        if isinstance(original, Ticket):
            audit.record(request, audit.Action.VIEWED_TICKET, channel=audit.Channel.ADMIN, ticket=original)
        else:
            audit.record(request, audit.Action.VIEWED_REQUESTER, channel=audit.Channel.ADMIN, requester=original)
    return response


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = Event
    fields = ["at", "kind", "actor_role", "actor", "actor_requester", "from_status", "to_status", "from_tier",
              "to_tier", "reason", "data"]
    readonly_fields = fields
    extra = 0
    ordering = ["at", "id"]
    verbose_name_plural = _("timeline")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "actor_requester", "from_tier", "to_tier")


class CommentInline(ReadOnlyMixin, admin.StackedInline):
    model = Comment
    fields = ["created_at", "author_role", "author", "author_requester", "internal", "body"]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "author_requester")


@admin.register(Ticket)
class TicketAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["reference", "subject", "status", "tier", "priority", "category", "requester", "assignee",
                    "created_at", "escalation_due_at", "sla_state"]
    list_filter = ["status", "tier", "priority", "category", "channel"]
    list_select_related = ["tier", "category", "requester", "assignee"]
    search_fields = ["subject", "requester__email"]
    date_hierarchy = "created_at"
    inlines = [EventInline, CommentInline]
    fieldsets = [
        (None, {"fields": ["reference", "subject", "description", "status", "tier", "priority", "category",
                           "channel", "requester", "assignee", "created_by", "version"]}),
        (_("Diagnosis"), {"fields": ["affected_item", "steps_before", "findings"]}),
        (_("Resolution"), {"fields": ["resolution_summary", "reopen_count", "repeat_of", "csat_rating",
                                      "csat_comment"]}),
        (_("Times"), {"fields": ["created_at", "updated_at", "first_response_at", "resolved_at", "closed_at"]}),
        (_("SLA"), {"fields": ["sla_state", "response_due_at", "escalation_due_at", "resolution_due_at",
                               "sla_paused", "sla_next_check_at"]}),
    ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return _recorded(request, super().change_view(request, object_id, form_url, extra_context))

    @admin.display(description=_("reference"), ordering="id")
    def reference(self, obj):
        return obj.reference

    @admin.display(description=_("SLA"))
    def sla_state(self, obj):
        missed = breaches(obj, timezone.now())
        if missed:
            return _("breached: %(clocks)s") % {"clocks": ", ".join(str(CLOCK_LABELS[c]) for c in missed)}
        if obj.status == Status.WAITING:
            return _("paused")
        return _("on time")

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        ticket_id = parse_reference(search_term)
        if ticket_id is not None:
            queryset |= self.model.objects.filter(pk=ticket_id)
        return queryset, may_have_duplicates


@admin.register(Event)
class EventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The append-only log, for audits across tickets."""

    list_display = ["at", "ticket", "kind", "actor_role", "actor", "from_status", "to_status", "from_tier", "to_tier"]
    list_filter = ["kind", "actor_role"]
    list_select_related = ["ticket", "actor", "from_tier", "to_tier"]
    date_hierarchy = "at"
    readonly_fields = ["ticket", "kind", "at", "actor", "actor_requester", "actor_role", "from_status", "to_status",
                       "from_tier", "to_tier", "reason", "data", "dispatched_at"]
