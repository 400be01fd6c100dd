"""Daily rollups of the metrics' building blocks, per tier × category × agent.

A row holds, for one local day and one combination of the tickets' current
tier, category and assignee, the counts that add up across days and the exact
durations (integer microseconds) that percentiles need — percentiles are not
additive, so the durations themselves are kept. `metrics.rollups` keeps them
in step with the event log; `metrics.selectors` reads them for closed days.
"""
import json

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tiers.models import Tier


class IntegerListField(models.Field):
    """A list of integers: a `bigint[]` on PostgreSQL (so SQL can unnest it), JSON text elsewhere."""

    description = _("List of integers")

    def db_type(self, connection):
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return []
        return value if isinstance(value, list) else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return list(value or [])

    def get_db_prep_value(self, value, connection, prepared=False):
        values = [int(v) for v in (value or [])]
        return values if connection.vendor == "postgresql" else json.dumps(values)


# The additive counts, in the order `metrics.facts` fills them.
COUNTS = (
    # Of the tickets created that day:
    "created", "done", "repeats", "escalated", "responded", "responded_in_time",
    # Of the tickets resolved that day (now resolved or closed, last entry into resolved that day):
    "resolved", "flr", "fcr", "with_due", "in_time",
    # Of the tickets closed that day with a rating:
    "rated", "rating_sum", "satisfied",
    # Events that day:
    "reopens", "defects",
)
# Exact durations in microseconds: time to resolve (calendar and business) of tickets resolved that day,
# first response of tickets created that day.
DURATIONS = ("ttr", "ttr_business", "response")


class DailyCell(models.Model):
    """One local day and one combination of the tickets' current tier, category and assignee."""

    day = models.DateField(_("day"))
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    category = models.ForeignKey("tickets.Category", on_delete=models.CASCADE, null=True, related_name="+",
                                 verbose_name=_("category"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+",
                                 verbose_name=_("assignee"))

    class Meta:
        abstract = True


class DailyMetrics(DailyCell):
    created = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    responded_in_time = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    flr = models.PositiveIntegerField(default=0)
    fcr = models.PositiveIntegerField(default=0)
    with_due = models.PositiveIntegerField(default=0)
    in_time = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    reopens = models.PositiveIntegerField(default=0)
    defects = models.PositiveIntegerField(default=0)
    ttr = IntegerListField(default=list)
    ttr_business = IntegerListField(default=list)
    response = IntegerListField(default=list)

    class Meta:
        verbose_name = _("daily metrics")
        verbose_name_plural = _("daily metrics")
        indexes = [models.Index(fields=["day"], name="metrics_daily_day")]

    def __str__(self):
        return f"{self.day} {self.tier_id}/{self.category_id}/{self.assignee_id}"


class DailyTierFlow(DailyCell):
    """Of the tickets created that day (grouped by their current tier, category, assignee): how many were ever
    at `at_tier`, and how many of those were escalated out of it — the per-tier escalation rate."""

    at_tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+", verbose_name=_("at tier"))
    visited = models.PositiveIntegerField(default=0)
    escalated_out = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily tier flow")
        verbose_name_plural = _("daily tier flows")
        indexes = [models.Index(fields=["day"], name="metrics_flow_day")]

    def __str__(self):
        return f"{self.day} {self.tier_id}/{self.category_id}/{self.assignee_id} at tier {self.at_tier_id}"


class RollupState(models.Model):
    """One row: which days the rollups cover and how far into the event log they are known to be current.

    Days in [`first_day`, `until_day`) are rolled up. Every event with an id up to `safe_event_id` is reflected
    in them; days touched by tickets with later events are read live until the next refresh recomputes them.
    """

    time_zone = models.CharField(max_length=64)
    first_day = models.DateField(null=True)
    until_day = models.DateField(null=True)
    safe_event_id = models.BigIntegerField(default=0)
    seen_event_id = models.BigIntegerField(default=0)
    # Bumped whenever rollup rows are rewritten: what is derived from them is kept under it.
    version = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup state")

    def __str__(self):
        return f"rollups of [{self.first_day}, {self.until_day}), current up to event {self.safe_event_id}"
