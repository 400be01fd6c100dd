"""Filters of the ticket list (the names are part of the API contract)."""
import django_filters

from tickets.models import Priority, Ticket
from tickets.selectors import search_tickets
from tickets.workflow import Status


class TicketFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, help_text="Repeat for several statuses.")
    tier = django_filters.CharFilter(field_name="tier__code", help_text="Tier code, e.g. L2.")
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    category = django_filters.CharFilter(field_name="category__slug", help_text="Category slug.")
    assignee = django_filters.CharFilter(field_name="assignee__username", help_text="Username of the assignee.")
    requester_email = django_filters.CharFilter(field_name="requester__email", lookup_expr="iexact")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="full_text", help_text="Full-text search in subject and description.")

    class Meta:
        model = Ticket
        fields = []

    def full_text(self, queryset, name, value):
        return search_tickets(queryset, value)
