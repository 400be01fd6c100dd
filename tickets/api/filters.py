"""Filters of the ticket list (the names are part of the API contract)."""
from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from tickets.models import Priority, Ticket
from tickets.selectors import search_tickets
from tickets.tags import with_tag
from tickets.workflow import Status


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: the database accepts any instant, not any UTC offset."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("The date-time is out of range.", code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class TicketFilter(django_filters.FilterSet):
    # distinct=False: a ticket matches at most once anyway, and DISTINCT would make PostgreSQL sort every match
    # before taking the first page (a third of a second at a million tickets) instead of reading an index.
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, help_text="Repeat for several statuses.",
                                                 distinct=False)
    tier = django_filters.CharFilter(field_name="tier__code", help_text="Tier code, e.g. L2.")
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    category = django_filters.CharFilter(field_name="category__slug", help_text="Category slug.")
    assignee = django_filters.CharFilter(field_name="assignee__username", help_text="Username of the assignee.")
    requester_email = django_filters.CharFilter(field_name="requester__email", lookup_expr="iexact")
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="full_text", help_text="Full-text search in subject and description.")
    # An EXISTS on the ticket–tag table, not a join: no duplicate rows, so no DISTINCT sort either.
    tag = django_filters.CharFilter(method="tagged", help_text="Only tickets with this tag (any case).")

    class Meta:
        model = Ticket
        fields = []

    def full_text(self, queryset, name, value):
        return search_tickets(queryset, value)

    def tagged(self, queryset, name, value):
        return with_tag(queryset, value)
