"""The manager dashboard `/dashboard/`: headline metrics against the previous period, trends, breakdowns,
weak spots, backlog, and a CSV export of every table.

All numbers come from `metrics.selectors`; this module parses the query,
formats for people (localised numbers and durations) and for machines (CSV
with the selectors' raw values: seconds, fractions 0–1, empty where undefined).
"""
import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET

from metrics import charts
from metrics.knowledge import knowledge_summary
from metrics.rollups import Basis, midnight
from metrics.selectors import Reading, breakdown, summary, tickets_for, trend, weakest
from metrics.selectors import backlog as open_backlog
from metrics.tags import tag_breakdown
from tickets.models import Category
from tickets.workflow import OPEN_STATUSES, Status
from tiers.models import Tier
from tiers.roles import Role, staff_role

PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "30d"
PERIOD_CHOICES = {
    "7d": gettext_lazy("Last 7 days"),
    "30d": gettext_lazy("Last 30 days"),
    "90d": gettext_lazy("Last 90 days"),
    "365d": gettext_lazy("Last 365 days"),
    "custom": gettext_lazy("Custom dates"),
}
STEPS = {"day": gettext_lazy("Per day"), "week": gettext_lazy("Per week")}
DAY_STEP_UP_TO_DAYS = 31  # the default step: per day up to a month, per week beyond
MAX_DAY_POINTS = 400  # a longer period per day is drawn per week
MAX_CUSTOM_DAYS = 5 * 366
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
NONE = "—"

AGE_BUCKETS = {
    "<1d": (gettext_lazy("under 1 day"), None, 1),
    "1-3d": (gettext_lazy("1–3 days"), 1, 3),
    "3-7d": (gettext_lazy("3–7 days"), 3, 7),
    ">7d": (gettext_lazy("over 7 days"), 7, None),
}
# (key, heading, kind, the drill-down list behind the number)
BREAKDOWN_COLUMNS = [
    ("created", gettext_lazy("Created"), "count", "created"),
    ("resolution_rate", gettext_lazy("Resolution rate"), "rate", "resolution_rate"),
    ("ttr_median", gettext_lazy("Median time to resolve"), "duration", "time_to_resolve"),
    ("ttr_p90", gettext_lazy("p90 time to resolve"), "duration", "time_to_resolve"),
    ("repeat_contact_rate", gettext_lazy("Repeat contact rate"), "rate", "repeat_contacts"),
    ("escalation_rate", gettext_lazy("Escalation rate"), "rate", "escalation_rate"),
    ("fcr_rate", gettext_lazy("First-contact resolution"), "rate", "fcr_rate"),
    ("sla_resolution", gettext_lazy("SLA compliance"), "rate", "sla_resolution"),
    ("csat_mean", gettext_lazy("CSAT"), "score", "csat"),
]
# (title, dimension heading, the desk's filter, the dashboard's filter)
BREAKDOWNS = {
    "tier": (gettext_lazy("By tier"), gettext_lazy("Tier"), "tier", "tier"),
    "category": (gettext_lazy("By category"), gettext_lazy("Category"), "category", "category"),
    "agent": (gettext_lazy("By agent"), gettext_lazy("Agent"), "assignee", "agent"),
}
TREND_COLUMNS = ["period", "created", "resolved", "ttr_median", "repeat_contacts"]
EXPORTS = ("summary", "by_tier", "by_category", "by_agent", "trend", "backlog")


def manager_required(view):
    """Signed-in managers only: anonymous visitors go to the sign-in page, anyone else gets 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if staff_role(request.user) != Role.MANAGER:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# --- the query ------------------------------------------------------------------------------------------


@dataclass
class Filters:
    """What the manager asked for, after validation: a period [start, end) and optional tier, category, agent."""

    period: str
    start: datetime
    end: datetime
    step: str
    step_chosen: str = ""  # "" when the step follows the period's length
    date_from: date | None = None
    date_to: date | None = None
    tier: Tier | None = None
    category: Category | None = None
    agent: object = None
    problems: list = field(default_factory=list)
    drill_base: tuple | None = field(default=None, repr=False, compare=False)  # drill_url's (path, params)

    @property
    def previous(self) -> tuple[datetime, datetime]:
        """The period of equal length just before this one."""
        return self.start - (self.end - self.start), self.start

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    def selector_filters(self) -> dict:
        return {"tier": self.tier, "category": self.category, "agent": self.agent}

    def params(self) -> dict:
        """The query that reproduces these filters (for the CSV links): only understood values."""
        values = {"period": self.period}
        if self.period == "custom":
            values.update({"from": self.date_from.isoformat(), "to": self.date_to.isoformat()})
        if self.tier:
            values["tier"] = self.tier.code
        if self.category:
            values["category"] = self.category.slug
        if self.agent:
            values["agent"] = self.agent.get_username()
        if self.step_chosen:
            values["step"] = self.step_chosen
        return values

    def desk_params(self) -> dict:
        """The desk's filters for the same tier, category and agent (its open queue)."""
        values = {"queue": "open"}
        if self.tier:
            values["tier"] = self.tier.code
        if self.category:
            values["category"] = self.category.slug
        if self.agent:
            values["assignee"] = self.agent.get_username()
        return values


def drill_url(filters: Filters, metric: str, **extra) -> str:
    """The list of tickets behind a number of the dashboard with these filters; `extra` overrides or narrows
    them (None removes a filter)."""
    base = filters.drill_base
    if base is None:
        base = filters.drill_base = (reverse("dashboard:tickets"), filters.params())
    path, params = base
    if any(key in params for key in extra):
        params = {key: value for key, value in params.items() if key not in extra}
    query = urlencode({**params, "metric": metric, **{k: v for k, v in extra.items() if v is not None}})
    return f"{path}?{query}"


def _param(params, name: str) -> str:
    return (params.get(name) or "").strip()


def _lookup(queryset, **where):
    """The one object matching, or None; values no database could store (NUL, very long) match nothing."""
    value = next(iter(where.values()))
    if "\x00" in value or len(value) > 150:
        return None
    return queryset.filter(**where).first()


def _shown(value: str) -> str:
    return Truncator(value.replace("\x00", "")).chars(40)


def _custom_dates(raw_from: str, raw_to: str, today: date):
    """(from, to, problem) of a custom period; dates are inclusive, `to` defaults to today."""
    if not raw_from and not raw_to:
        return None, None, _("Choose the dates of the custom period.")
    try:
        date_to = date.fromisoformat(raw_to) if raw_to else today
        date_from = date.fromisoformat(raw_from) if raw_from else date_to - timedelta(days=PERIODS[DEFAULT_PERIOD] - 1)
    except ValueError:
        return None, None, _("The dates were not understood (use YYYY-MM-DD).")
    if not (EARLIEST <= date_from <= LATEST and EARLIEST <= date_to <= LATEST):
        return None, None, _("The dates are out of range.")
    if date_from > date_to:
        return None, None, _("The start date is after the end date.")
    if (date_to - date_from).days + 1 > MAX_CUSTOM_DAYS:
        return None, None, _("A custom period can be at most %(days)d days long.") % {"days": MAX_CUSTOM_DAYS}
    return date_from, date_to, None


def parse_filters(params, *, now: datetime | None = None) -> Filters:
    """Read `period`, `from`, `to`, `tier`, `category`, `agent` and `step`; anything not understood is
    replaced by its default and explained in `problems` (never an error)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    problems = []
    period = _param(params, "period")
    raw_from, raw_to = _param(params, "from"), _param(params, "to")
    if not period and (raw_from or raw_to):
        period = "custom"
    date_from = date_to = None
    if period == "custom":
        date_from, date_to, problem = _custom_dates(raw_from, raw_to, today)
        if problem:
            problems.append(problem)
            period = DEFAULT_PERIOD
    elif period and period not in PERIODS:
        problems.append(_("The period “%(period)s” is unknown.") % {"period": _shown(period)})
        period = DEFAULT_PERIOD
    period = period or DEFAULT_PERIOD
    if period == "custom":
        start, end = midnight(date_from), midnight(date_to + timedelta(days=1))
    else:
        end = now
        start = end - timedelta(days=PERIODS[period])
        date_from, date_to = timezone.localdate(start), today

    filters = Filters(period=period, start=start, end=end, step="day", date_from=date_from, date_to=date_to,
                      problems=problems)
    code = _param(params, "tier")
    if code:
        filters.tier = _lookup(Tier.objects, code=code)
        if filters.tier is None:
            problems.append(_("There is no tier “%(value)s”; all tiers are shown.") % {"value": _shown(code)})
    slug = _param(params, "category")
    if slug:
        filters.category = _lookup(Category.objects, slug=slug)
        if filters.category is None:
            problems.append(_("There is no category “%(value)s”; all categories are shown.") % {"value": _shown(slug)})
    username = _param(params, "agent")
    if username:
        filters.agent = _lookup(get_user_model().objects, username=username)
        if filters.agent is None:
            problems.append(_("There is no agent “%(value)s”; all agents are shown.") % {"value": _shown(username)})

    step = _param(params, "step")
    if step and step not in STEPS:
        problems.append(_("The step “%(value)s” is unknown; it follows the period.") % {"value": _shown(step)})
        step = ""
    if step == "day" and filters.days > MAX_DAY_POINTS:
        problems.append(_("This period is too long to show per day; it is shown per week."))
        step = ""
    filters.step_chosen = step
    filters.step = step or ("day" if filters.days <= DAY_STEP_UP_TO_DAYS else "week")
    if problems:
        problems.append(_("Defaults are used instead."))
    return filters


# --- formatting for people --------------------------------------------------------------------------------


def human_duration(seconds) -> str:
    """A duration in words, two units at most, in the active language ("2 days, 3 hours")."""
    if seconds is None:
        return NONE
    seconds = round(seconds)  # an int, whether the value is a float, an int or a Decimal
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    base = datetime(2001, 1, 1, tzinfo=UTC)
    return timesince(base, base + timedelta(seconds=seconds), depth=2)


def fixed(value: float, places: int) -> str:
    """A localised number rounded to `places` decimals (number_format alone cuts the digits off)."""
    return number_format(round(value, places), places)


def show(kind: str, value) -> str:
    if value is None:
        return NONE
    if kind == "count":
        return number_format(value, force_grouping=True)
    if kind == "rate":
        return _("%(value)s%%") % {"value": fixed(value * 100, 1)}
    if kind == "duration":
        return human_duration(value)
    if kind == "score":
        return fixed(value, 2)
    raise ValueError(kind)


def change(kind: str, current, previous, better: str | None) -> dict:
    """The change against the previous period: arrow, text, and whether it is better or worse."""
    was = _("previous period: %(value)s") % {"value": show(kind, previous)}
    if current is None or previous is None:
        return {"arrow": "", "text": _("no comparison"), "css": "none", "verdict": "", "title": was}
    diff = current - previous
    if abs(diff) < 1e-9:
        return {"arrow": "", "text": _("no change"), "css": "same", "verdict": "", "title": was}
    sign = "+" if diff > 0 else "−"
    if kind == "count":
        text = f"{sign}{number_format(abs(diff), force_grouping=True)}"
    elif kind == "rate":
        text = _("%(sign)s%(value)s pp") % {"sign": sign, "value": fixed(abs(diff) * 100, 1)}
    elif kind == "duration":
        text = f"{sign}{human_duration(abs(diff))}"
    else:
        text = f"{sign}{fixed(abs(diff), 2)}"
    if better is None:
        css, verdict = "neutral", ""
    elif (diff > 0) == (better == "higher"):
        css, verdict = "better", _("better")
    else:
        css, verdict = "worse", _("worse")
    return {"arrow": "▲" if diff > 0 else "▼", "text": text, "css": css, "verdict": verdict, "title": was}


def headline(current: dict, previous: dict, filters: Filters) -> list[dict]:
    """The headline numbers with their change, each linked to the tickets behind it; lower is better for time to
    resolve and repeat contacts."""

    def card(key, label, kind, better, get, metric, *details):
        value, before = get(current), get(previous)
        return {"key": key, "label": label, "value": show(kind, value), "change": change(kind, value, before, better),
                "link": drill_url(filters, metric),
                "details": [{"text": text, "link": drill_url(filters, behind)} for text, behind in details]}

    ttr = current["time_to_resolve"]
    csat = current["csat"]
    return [
        card("created", _("Created"), "count", None, lambda s: s["created"], "created",
             (ngettext("%(count)s repeat contact", "%(count)s repeat contacts", current["repeat_contacts"] or 0)
              % {"count": number_format(current["repeat_contacts"] or 0, force_grouping=True)}, "repeat_contacts"),
             (ngettext("%(count)s escalation defect", "%(count)s escalation defects",
                       current["escalation_defects"] or 0)
              % {"count": number_format(current["escalation_defects"] or 0, force_grouping=True)},
              "escalation_defects")),
        card("resolution_rate", _("Resolution rate"), "rate", "higher", lambda s: s["resolution_rate"],
             "resolution_rate",
             (_("escalation rate %(rate)s") % {"rate": show("rate", current["escalation_rate"])}, "escalation_rate")),
        card("ttr_median", _("Median time to resolve"), "duration", "lower",
             lambda s: s["time_to_resolve"]["median"], "time_to_resolve",
             (_("p90 %(p90)s · business hours median %(business)s")
              % {"p90": show("duration", ttr["p90"]), "business": show("duration", ttr["business_median"])},
              "time_to_resolve"),
             (_("first response median %(median)s") % {"median": show("duration", current["first_response"]["median"])},
              "first_response")),
        card("repeat_contact_rate", _("Repeat contact rate"), "rate", "lower", lambda s: s["repeat_contact_rate"],
             "repeat_contacts"),
        card("fcr_rate", _("First-contact resolution"), "rate", "higher", lambda s: s["fcr_rate"], "fcr_rate",
             (_("first-level resolution %(flr)s") % {"flr": show("rate", current["flr_rate"])}, "flr_rate")),
        card("sla_resolution", _("SLA compliance (resolution)"), "rate", "higher",
             lambda s: s["sla_compliance"]["resolution"], "sla_resolution",
             (_("first response %(rate)s") % {"rate": show("rate", current["sla_compliance"]["response"])},
              "sla_response")),
        card("csat_mean", _("CSAT"), "score", "higher", lambda s: s["csat"]["mean"], "csat",
             (ngettext("%(count)s rating, %(share)s satisfied", "%(count)s ratings, %(share)s satisfied",
                       csat["count"] or 0)
              % {"count": number_format(csat["count"] or 0, force_grouping=True),
                 "share": show("rate", csat["share_satisfied"])}, "csat")),
    ]


def _desk(params: dict) -> str:
    return f"{reverse('desk:queue')}?{urlencode(params)}"


def _cell_link(filters: Filters, by: str, key: str, column: str, metric: str) -> str:
    if by == "tier" and column == "escalation_rate":
        # A tier's own escalation rate: tickets that were ever at the tier, whatever tier they are at now.
        return drill_url(filters, "tier_escalation", at_tier=key)
    return drill_url(filters, metric, **{BREAKDOWNS[by][3]: key})


def breakdown_table(rows: list[dict], by: str, filters: Filters, csv_url: str) -> dict:
    title, dimension, desk_param, _filter = BREAKDOWNS[by]
    base = filters.desk_params()
    return {
        "id": f"by_{by}",
        "title": title,
        "dimension": dimension,
        "csv": csv_url,
        "columns": [label for _key, label, _kind, _metric in BREAKDOWN_COLUMNS],
        "rows": [
            {
                "key": row["key"],
                "label": row["label"],
                "link": _desk({**base, desk_param: row["key"]}),
                "cells": [{"text": show(kind, row[key]), "link": _cell_link(filters, by, row["key"], key, metric)}
                          for key, _label, kind, metric in BREAKDOWN_COLUMNS],
                "empty": not row["created"],
            }
            for row in rows
        ],
    }


def tag_table(filters: Filters) -> list[dict]:
    """The "by tag" breakdown (metrics.tags), each tag linking to its tickets in the desk."""
    base = {**filters.desk_params(), "queue": "all"}
    return [
        {"key": row["key"], "link": _desk({**base, "tag": row["key"]}), "created": show("count", row["created"]),
         "resolved": show("count", row["resolved"]), "ttr_median": show("duration", row["ttr_median"])}
        for row in tag_breakdown(start=filters.start, end=filters.end, **filters.selector_filters())
    ]


def weakest_list(rows: list[dict], metric: str, kind: str, behind: str, filters: Filters) -> list[dict]:
    return [
        {"label": row["label"], "link": drill_url(filters, behind, category=row["key"]),
         "value": show(kind, row[metric]), "created": show("count", row["created"]),
         "created_link": drill_url(filters, "created", category=row["key"])}
        for row in weakest(rows, metric, n=5)
    ]


def backlog_tables(backlog: dict, tiers: list, filters: Filters, now: datetime) -> dict:
    base = filters.desk_params()
    by_tier = [
        {"label": f"{tier.code} {tier.name}", "count": backlog["by_tier"].get(tier.code, 0),
         "link": _desk({**base, "tier": tier.code})}
        for tier in tiers
        if filters.tier is None or tier == filters.tier
    ]
    by_status = [
        {"label": Status(status).label, "count": backlog["by_status"].get(status, 0),
         "link": _desk({**base, "status": status})}
        for status in OPEN_STATUSES
    ]
    by_age = []
    for key, (label, newer_than_days, older_than_days) in AGE_BUCKETS.items():
        params = dict(base)
        if older_than_days is not None:
            params["created_after"] = (now - timedelta(days=older_than_days)).isoformat()
        if newer_than_days is not None:
            params["created_before"] = (now - timedelta(days=newer_than_days)).isoformat()
        by_age.append({"label": label, "count": backlog["by_age"].get(key, 0), "link": _desk(params)})
    return {"total": backlog["total"], "total_link": _desk(base), "by_tier": by_tier, "by_status": by_status,
            "by_age": by_age}


def _day_label(day: date) -> str:
    return dateformat.format(day, "j M")


def trend_charts(rows: list[dict], filters: Filters) -> list:
    labels = [_day_label(row["period"]) for row in rows]
    per = _("per day") if filters.step == "day" else _("per week (weeks start on Monday)")
    span = {"start": dateformat.format(filters.date_from, "j M Y"), "end": dateformat.format(filters.date_to, "j M Y"),
            "per": per}
    count = lambda v: number_format(round(v), force_grouping=True)  # noqa: E731
    created, resolved = sum(r["created"] for r in rows), sum(r["resolved"] for r in rows)
    longest = max((r["ttr_median"] for r in rows if r["ttr_median"] is not None), default=0)
    unit, unit_name = (60, _("minutes")) if longest < 2 * 3600 else (3600, _("hours")) if longest < 72 * 3600 else (
        86400, _("days"))
    return [
        charts.line_chart(
            chart_id="chart-volume",
            title=_("Tickets created and resolved"),
            desc=_("Tickets created and tickets resolved %(per)s, %(start)s to %(end)s.") % span
            + " " + _("In total %(created)s created and %(resolved)s resolved.")
            % {"created": count(created), "resolved": count(resolved)},
            labels=labels,
            series=[charts.Series(_("created"), [r["created"] for r in rows]),
                    charts.Series(_("resolved"), [r["resolved"] for r in rows])],
            y_format=count,
            integer=True,
            y_label=_("tickets"),
        ),
        charts.line_chart(
            chart_id="chart-ttr",
            title=_("Median time to resolve"),
            desc=_("Median time to resolve of the tickets resolved %(per)s, in %(unit)s, %(start)s to %(end)s; "
                   "gaps where nothing was resolved.") % {**span, "unit": unit_name},
            labels=labels,
            series=[charts.Series(_("median"), [None if r["ttr_median"] is None else r["ttr_median"] / unit
                                                for r in rows])],
            y_format=lambda v: fixed(v, 1),
            point_format=lambda v: human_duration(v * unit),
            y_label=unit_name,
        ),
        charts.line_chart(
            chart_id="chart-repeats",
            title=_("Repeat contacts"),
            desc=_("Tickets opened again for the same problem %(per)s, %(start)s to %(end)s.") % span,
            labels=labels,
            series=[charts.Series(_("repeat contacts"), [r["repeat_contacts"] for r in rows])],
            y_format=count,
            integer=True,
            y_label=_("tickets"),
        ),
    ]


def trend_row(row: dict, filters: Filters) -> dict:
    """One day or week of the trend, each number linked to the tickets behind it in that bucket."""
    bucket = {"day": row["period"].isoformat(), "step": filters.step}
    return {
        "period": row["period"],
        "created": {"text": show("count", row["created"]), "link": drill_url(filters, "created", **bucket)},
        "resolved": {"text": show("count", row["resolved"]), "link": drill_url(filters, "time_to_resolve", **bucket)},
        "ttr_median": {"text": show("duration", row["ttr_median"]),
                       "link": drill_url(filters, "time_to_resolve", **bucket)},
        "repeat_contacts": {"text": show("count", row["repeat_contacts"]),
                            "link": drill_url(filters, "repeat_contacts", **bucket)},
    }


def numbers(filters: Filters) -> tuple:
    """Everything the page shows: the summary, the previous period's, the breakdowns, the trend and the knowledge
    base's figures."""
    chosen = filters.selector_filters()
    basis = Basis()
    reading = Reading(start=filters.start, end=filters.end, basis=basis, **chosen)
    reading.prefetch("none", *BREAKDOWNS, filters.step)
    current = summary(reading=reading)
    previous_start, previous_end = filters.previous
    # The previous period only feeds the changes of the headline numbers.
    previous = summary(reading=Reading(start=previous_start, end=previous_end, durations=("ttr",), flow=False,
                                       basis=basis, **chosen), with_backlog=False)
    rows = {by: breakdown(by=by, reading=reading) for by in BREAKDOWNS}
    knowledge = knowledge_summary(start=filters.start, end=filters.end, reading=reading, **chosen)
    return current, previous, rows, trend(step=filters.step, reading=reading), knowledge


def warm(*, now: datetime | None = None) -> list[str]:
    """Read the standard periods of the dashboard, so that what they derive from the rollups is kept in the
    cache before the first manager asks after a refresh."""
    for period in PERIODS:
        numbers(parse_filters({"period": period}, now=now))
    return list(PERIODS)


# --- views ----------------------------------------------------------------------------------------------


@manager_required
@require_GET
def index(request):
    filters = parse_filters(request.GET)
    now = timezone.now()
    current, previous, rows, trend_rows, knowledge = numbers(filters)
    previous_start, previous_end = filters.previous
    tiers = list(Tier.objects.order_by("level"))
    query = urlencode(filters.params())
    csv_urls = {name: f"{reverse('dashboard:export', args=[name])}?{query}" for name in EXPORTS}
    context = {
        "filters": filters,
        "problems": filters.problems,
        "periods": PERIOD_CHOICES,
        "steps": STEPS,
        "tiers": tiers,
        "categories": Category.objects.order_by("name"),
        "agents": get_user_model().objects.filter(tier_memberships__isnull=False).distinct().order_by("username"),
        "previous_from": timezone.localdate(previous_start),
        "previous_to": timezone.localdate(previous_end - timedelta(microseconds=1)),
        "headline": headline(current, previous, filters),
        "charts": trend_charts(trend_rows, filters),
        "trend": [trend_row(row, filters) for row in trend_rows],
        "breakdowns": [breakdown_table(rows[by], by, filters, csv_urls[f"by_{by}"]) for by in BREAKDOWNS],
        "by_tag": tag_table(filters),
        "weakest_repeat": weakest_list(rows["category"], "repeat_contact_rate", "rate", "repeat_contacts", filters),
        "weakest_ttr": weakest_list(rows["category"], "ttr_median", "duration", "time_to_resolve", filters),
        "backlog": backlog_tables(current["backlog"], tiers, filters, now),
        "knowledge": knowledge_panel(knowledge, filters),
        "csv": csv_urls,
    }
    return render(request, "dashboard/index.html", context)


def knowledge_panel(numbers: dict, filters: Filters) -> dict:
    """The knowledge base's figures as the page shows them, each linked to what it counts (deflections are
    contacts that never became tickets: their list is the admin's)."""
    with_, without = numbers["time_to_resolve_with_suggestion"], numbers["time_to_resolve_without_suggestion"]

    def tickets(count):
        return ngettext("%(count)s ticket", "%(count)s tickets", count) % {
            "count": number_format(count, force_grouping=True)}

    deflections = reverse("admin:knowledge_deflection_changelist") + "?" + urlencode(
        {"at__gte": filters.start.isoformat(), "at__lt": filters.end.isoformat()})
    return {
        "cards": [
            {"key": "suggestions_used", "label": _("Suggestions used"),
             "value": show("count", numbers["suggestions_used"]), "link": drill_url(filters, "suggestions_used")},
            {"key": "articles_per_resolution", "label": _("Articles used per resolution"),
             "value": show("score", numbers["articles_per_resolution"]),
             "link": drill_url(filters, "articles_per_resolution")},
            {"key": "deflected_contacts", "label": _("Contacts deflected by articles"),
             "value": show("count", numbers["deflected_contacts"]), "link": deflections},
            {"key": "ttr_with_suggestion", "label": _("Time to resolve with a suggestion (median)"),
             "value": show("duration", with_["median"]), "detail": tickets(with_["count"]),
             "link": drill_url(filters, "ttr_with_suggestion")},
            {"key": "ttr_without_suggestion", "label": _("Time to resolve without (median)"),
             "value": show("duration", without["median"]), "detail": tickets(without["count"]),
             "link": drill_url(filters, "ttr_without_suggestion")},
        ],
        "top_articles": numbers["top_articles"],
    }


def _flatten(values: dict, prefix: str = ""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def csv_value(value) -> str:
    """A raw value for the CSV: numbers as Python writes them, empty for undefined, text made formula-safe."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return str(value)


def export_rows(table: str, filters: Filters) -> list[list]:
    """Header row and data rows of one dashboard table."""
    chosen = filters.selector_filters()
    if table == "summary":
        values = summary(start=filters.start, end=filters.end, **chosen)
        return [["metric", "value"], *([key, value] for key, value in _flatten(values))]
    if table.startswith("by_"):
        columns = ["key", "label", *(key for key, _label, _kind, _metric in BREAKDOWN_COLUMNS)]
        rows = breakdown(start=filters.start, end=filters.end, by=table[3:], **chosen)
        return [columns, *([row[c] for c in columns] for row in rows)]
    if table == "trend":
        rows = trend(start=filters.start, end=filters.end, step=filters.step, **chosen)
        return [TREND_COLUMNS, *([row[c] for c in TREND_COLUMNS] for row in rows)]
    if table == "backlog":
        tickets = tickets_for(**chosen)
        backlog = open_backlog(tickets)
        tier_codes = [t.code for t in Tier.objects.order_by("level")]
        tier_codes += [code for code in backlog["by_tier"] if code not in tier_codes]
        return [
            ["dimension", "key", "count"],
            ["total", "", backlog["total"]],
            *(["tier", code, backlog["by_tier"].get(code, 0)] for code in tier_codes),
            *(["status", str(status), backlog["by_status"].get(status, 0)] for status in OPEN_STATUSES),
            *(["age", key, backlog["by_age"].get(key, 0)] for key in AGE_BUCKETS),
        ]
    raise Http404


@manager_required
@require_GET
def export(request, table):
    """One table of the dashboard as CSV, for the same filters as the page."""
    if table not in EXPORTS:
        raise Http404
    filters = parse_filters(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"tierdesk-{table}-{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    for row in export_rows(table, filters):
        writer.writerow([csv_value(value) for value in row])
    return response
