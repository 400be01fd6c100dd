"""Metrics per PRODUCT.md ("Metric definitions") for a period [start, end).

Every number is built from the facts of `metrics.facts`: whole days that have
ended come from the daily rollups (`metrics.rollups`), the rest — today, the
edges of the period, days changed since the last refresh — is read live, and
the two are added up. Filters (tier, category, agent) select tickets by their
current tier, category and assignee. Percentiles are continuous (linear
interpolation, what `percentile_cont` computes) over exact order statistics of
the rollups' stored durations and the live ones together (`metrics.percentiles`).
Rates are fractions 0–1 and durations seconds; None where a metric is undefined
(nothing to divide by).
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, DateField, F, Func, IntegerField, Q, Sum, Value
from django.db.models.functions import TruncWeek
from django.utils import timezone

from metrics import percentiles
from metrics.facts import Facts, Scope, by_cell, collect
from metrics.models import COUNTS, DURATIONS, DailyMetrics, DailyTierFlow
from metrics.rollups import Plan, midnight
from tickets.models import Category
from tickets.workflow import OPEN_STATUSES
from tiers.models import Tier
from tiers.selectors import tier_by_id

MICROSECONDS = 1_000_000


def tickets_for(*, tier=None, category=None, agent=None):
    return Scope(tier, category, agent).tickets()


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- adding up rollups and live facts --------------------------------------------------------------------


def _week(day):
    return day - timedelta(days=day.weekday())


# How facts are grouped: the key of a live fact, and the same key over the rollups' rows.
GROUPINGS = {
    "none": (lambda day, tier, category, agent: None, lambda: Value(0, output_field=IntegerField())),
    "tier": (lambda day, tier, category, agent: tier, lambda: F("tier_id")),
    "category": (lambda day, tier, category, agent: category, lambda: F("category_id")),
    "agent": (lambda day, tier, category, agent: agent, lambda: F("assignee_id")),
    "day": (lambda day, tier, category, agent: day, lambda: F("day")),
    "week": (lambda day, tier, category, agent: _week(day), lambda: TruncWeek("day", output_field=DateField())),
}


@dataclass
class Measured:
    counts: Counter = field(default_factory=Counter)
    # name -> {"median", "p90", "mean"} in seconds (None when there is no duration)
    durations: dict = field(default_factory=dict)

    def stats(self, name: str) -> dict:
        return self.durations.get(name) or {"median": None, "p90": None, "mean": None}


# The dimensions of the rollups' grouping sets, in the order of GROUPING(): a grouping's set is its own one.
SET_COLUMNS = ("tier_id", "category_id", "assignee_id", "week", "day")
SET_OF = {"none": None, "tier": "tier_id", "category": "category_id", "agent": "assignee_id", "week": "week",
          "day": "day"}


class Reading:
    """One period and scope, read once for everything a page shows of it: which days come from the rollups,
    the live facts per cell (regrouped for each grouping), and the rollups' counts for every grouping asked for
    in one query. `durations` names the kinds of duration wanted (the others are not computed)."""

    def __init__(self, *, start, end, tier=None, category=None, agent=None, use_rollups: bool = True,
                 durations=DURATIONS, flow: bool = True, basis=None):
        self.start, self.end = start, end
        self.scope = Scope(tier, category, agent)
        self.plan = Plan(start, end, use_rollups=use_rollups, basis=basis)
        self.durations = tuple(durations)
        self.with_flow = flow  # the per-tier escalation flow is gathered (breakdowns by tier need it)
        self._cells = None
        self._live: dict = {}
        self._stored: dict = {}
        self._flow = None

    def live(self, by: str) -> dict:
        """{group: Facts} read live, grouped `by` (not to be changed by the caller)."""
        if self._cells is None:
            self._cells = collect(self.plan.live, self.scope, by_cell, durations=self.durations,
                                  flow=self.with_flow)
        if by not in self._live:
            key = GROUPINGS[by][0]
            grouped: dict = {}
            for cell, facts in self._cells.items():
                grouped.setdefault(key(*cell), Facts()).add(facts)
            self._live[by] = grouped
        return self._live[by]

    def _cache_key(self, what) -> str:
        plan = self.plan
        return percentiles.cache_key("sums", plan.version, what, self.scope.key(), plan.first_day, plan.until_day)

    def flow(self) -> Counter:
        """(tier id, "visited" | "escalated_out") -> count, over the period's created tickets (rollups + live)."""
        if self._flow is None:
            if not self.with_flow:
                raise ValueError("This reading was made without the tier flow.")
            self._flow = Counter()
            for facts in self.live("none").values():
                self._flow.update(facts.flow)
            if self.plan.uses_rollups:
                self._flow.update(percentiles.cached(
                    self._cache_key("flow"),
                    lambda: _flow_sums(self.plan.rollup_rows(DailyTierFlow, self.scope, all_days=True)),
                ))
                if self.plan.excluded:
                    self._flow.subtract(_flow_sums(self.plan.excluded_rows(DailyTierFlow, self.scope)))
        return self._flow

    def stored(self, by: str) -> dict:
        """{group: counts} added up from the rollups."""
        if by not in self._stored:
            self.prefetch(by)
        return self._stored[by]

    def prefetch(self, *groupings: str) -> None:
        """Add up the rollups for several groupings at once.

        The sums over the whole day range are kept in the cache under the rollups' version (like the percentile
        windows); the days read live instead are summed on their own and taken out."""
        wanted = [by for by in dict.fromkeys(groupings) if by not in self._stored]
        if not wanted:
            return
        for by in wanted:
            self._stored[by] = {}
        if not self.plan.uses_rollups:
            return
        keys = {by: self._cache_key(by) for by in wanted}
        kept = percentiles.cached_many(
            keys, lambda missing: _count_sums(self.plan.rollup_rows(DailyMetrics, self.scope, all_days=True), missing)
        )
        for by in wanted:
            self._stored[by] = {key: Counter(counts) for key, counts in kept[by].items()}
        if self.plan.excluded:
            for by, sums in _count_sums(self.plan.excluded_rows(DailyMetrics, self.scope), wanted).items():
                for key, counts in sums.items():
                    self._stored[by].setdefault(key, Counter()).subtract(counts)


def _flow_sums(rows) -> dict:
    totals: dict = {}
    for row in rows.values("at_tier_id").order_by().annotate(visited_n=Sum("visited"), out_n=Sum("escalated_out")):
        totals[(row["at_tier_id"], "visited")] = row["visited_n"]
        totals[(row["at_tier_id"], "escalated_out")] = row["out_n"]
    return totals


def _count_sums(rows, groupings) -> dict:
    """{grouping: {group: {count: sum}}} of rollup rows (on PostgreSQL in one GROUPING SETS query)."""
    sums: dict = {by: {} for by in groupings}

    def add(by, key, counts):
        if by in ("week", "day") and isinstance(key, datetime):
            key = key.date()
        found = sums[by].setdefault(None if by == "none" else key, {})
        for name, value in counts.items():
            if value:
                found[name] = found.get(name, 0) + value

    if connection.vendor != "postgresql":
        for by in groupings:
            grouped = rows.annotate(g=GROUPINGS[by][1]()).values("g").order_by()
            for row in grouped.annotate(**{name: Sum(name) for name in COUNTS}):
                add(by, row["g"], {name: row[name] for name in COUNTS})
        return sums
    columns = [column for column in SET_COLUMNS if column in {SET_OF[by] for by in groupings}]
    # GROUPING() has a 1 bit for each column a row is not grouped by: a grouping's own set leaves one 0.
    mask_of = {by: sum(1 << (len(columns) - 1 - i) for i, column in enumerate(columns) if column != SET_OF[by])
               for by in groupings}
    by_mask = {mask: by for by, mask in mask_of.items()}
    grouping = f"GROUPING({', '.join(columns)})" if columns else "0"
    sets = ", ".join(f"({SET_OF[by] or ''})" for by in groupings)
    inner, params = (rows.values("day", "tier_id", "category_id", "assignee_id", *COUNTS)
                     .order_by().query.sql_with_params())
    selected = ", ".join([grouping, *columns, *(f"SUM({name})" for name in COUNTS)])
    # Formatted from our column names and Django's SQL for the rows; its values stay parameters.
    sql = (
        f"SELECT {selected} "  # noqa: S608 - our names and Django's SQL  # nosec B608
        f"FROM (SELECT r.*, date_trunc('week', r.day)::date AS week FROM ({inner}) r) s "
        f"GROUP BY GROUPING SETS ({sets})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for mask, *values in cursor.fetchall():
            by = by_mask[mask]
            key = dict(zip(columns, values[:len(columns)], strict=True)).get(SET_OF[by]) if SET_OF[by] else None
            add(by, key, dict(zip(COUNTS, values[len(columns):], strict=True)))
    return sums


def measure(reading: Reading, *, by: str = "none", durations=None) -> dict:
    """The facts of the reading grouped `by`, with duration statistics: {key: Measured}.

    The number of queries depends on neither the number of tickets nor the number of groups."""
    live = reading.live(by)
    results = {key: Measured(counts=Counter(facts.counts)) for key, facts in live.items()}

    def result(key) -> Measured:
        return results.setdefault(None if by == "none" else key, Measured())

    for key, counts in reading.stored(by).items():
        result(key).counts.update(counts)
    for name in reading.durations if durations is None else durations:
        values = {key: facts.durations[name] for key, facts in live.items() if facts.durations[name]}
        for key, stats in _duration_stats(reading.plan, reading.scope, by, name, values).items():
            result(key).durations[name] = stats
    return results


def _seconds(value) -> float | None:
    return None if value is None else float(value) / MICROSECONDS


def _as_durations(stats: dict | None) -> dict | None:
    if not stats or not stats.get("n"):
        return None
    return {"median": _seconds(stats[0.5]), "p90": _seconds(stats[0.9]),
            "mean": stats["sum"] / stats["n"] / MICROSECONDS}


def _stored(rows, by: str, name: str) -> dict:
    """{group: [durations]} of rollup rows."""
    live_key = GROUPINGS[by][0]
    values: dict = {}
    for day, tier, category, agent, stored in rows.values_list("day", "tier_id", "category_id", "assignee_id", name):
        if stored:
            values.setdefault(live_key(day, tier, category, agent), []).extend(stored)
    return values


def _duration_stats(plan: Plan, scope: Scope, by: str, name: str, live: dict) -> dict:
    """{group: {median, p90, mean}} of one kind of duration over the rollups' rows and the live values.

    Every way of getting there ends in the same order statistics and `percentiles.interpolate`, so rollups and
    live queries give identical numbers."""
    stats = raw_duration_stats(plan, scope, by, name, live)
    return {key: value for key, found in stats.items() if (value := _as_durations(found))}


def raw_duration_stats(plan: Plan, scope: Scope, by: str, name: str, live: dict, minus: dict | None = None) -> dict:
    """{group: {n, sum, 0.5, 0.9}} (microseconds) of one kind of duration over the rollups' rows and the live
    values, less the values in `minus` ({group: [durations]}, a few of those counted: e.g. the tickets that
    used a suggestion, to give the figures of the others)."""
    minus = {key: found for key, found in (minus or {}).items() if found}
    if not plan.uses_rollups:
        return {key: found for key, values in live.items() if (found := _stats_less(values, minus.get(key)))}
    if connection.vendor != "postgresql":
        values = _stored(plan.rollup_rows(DailyMetrics, scope), by, name)
        for key, found in live.items():
            values.setdefault(key, []).extend(found)
        return {key: found for key, kept in values.items() if (found := _stats_less(kept, minus.get(key)))}

    removed = _stored(plan.excluded_rows(DailyMetrics, scope), by, name) if plan.excluded else {}
    for key, found in minus.items():
        removed.setdefault(key, []).extend(found)
    key_type = "date" if by in ("day", "week") else "integer"

    def group(key):
        return None if by == "none" else key

    def stored_sql(rows):
        query = rows.annotate(g=GROUPINGS[by][1](), x=Func(F(name), function="unnest", output_field=IntegerField()))
        return query.values_list("g", "x").order_by().query.sql_with_params()

    def compute_windows():
        sql, params = stored_sql(plan.rollup_rows(DailyMetrics, scope, all_days=True))
        return percentiles.fetch_windows(sql, params, percentiles.WINDOW, key_type)

    cache_key = percentiles.cache_key(plan.version, name, by, scope.key(), plan.first_day, plan.until_day,
                                      percentiles.WINDOW)
    windows = {group(key): found for key, found in percentiles.cached(cache_key, compute_windows).items()}
    results = {}
    for key in set(windows) | set(live):
        found = windows.get(key)
        combined = (found.combine(removed.get(key, []), live.get(key, [])) if found
                    else _stats_less(live.get(key, []), minus.get(key)))
        if combined is None and found is not None:
            return _duration_stats_sorting_all(plan, scope, by, name, live, stored_sql, key_type, group, minus)
        if combined:
            results[key] = combined
    return results


def _stats_less(values: list, minus: list | None) -> dict | None:
    if minus:
        left = Counter(values)
        left.subtract(Counter(minus))
        values = list(left.elements())
    return percentiles.stats_of(values)


def _duration_stats_sorting_all(plan, scope, by, name, live, stored_sql, key_type, group, minus) -> dict:
    """The same numbers by sorting every value: for a live part too large for the kept windows."""
    sql, params = stored_sql(plan.rollup_rows(DailyMetrics, scope))
    parts = [f"({sql})"]
    keys, values = [], []
    for key, found in live.items():
        keys.extend([0 if key is None else key] * len(found))
        values.extend(found)
    if values:
        # key_type is "date" or "integer" (see _duration_stats); the keys and values are parameters.
        parts.append(f"SELECT * FROM unnest(%s::{key_type}[], %s::bigint[])")  # noqa: S608 - see above  # nosec B608
        params = (*params, keys, values)
    # Wide enough around the ranks wanted for the values in `minus` to be taken out.
    width = max((len(found) for found in minus.values()), default=0) + 1
    windows = percentiles.fetch_windows(" UNION ALL ".join(parts), params, width, key_type)
    results = {}
    for key, found in windows.items():
        combined = found.combine(minus.get(group(key), []), [])
        if combined:
            results[group(key)] = combined
    return results


# --- the metrics -----------------------------------------------------------------------------------------


def summary(*, start=None, end=None, tier=None, category=None, agent=None, use_rollups: bool = True,
            durations=DURATIONS, with_backlog: bool = True, reading: Reading | None = None) -> dict:
    """Every metric of PRODUCT.md for the period (or the `reading` given). `durations` and `with_backlog` can
    leave out what a caller does not show (those keys are then None)."""
    reading = reading or Reading(start=start, end=end, tier=tier, category=category, agent=agent,
                                 use_rollups=use_rollups, durations=durations, flow=False)
    scope = reading.scope
    measured = measure(reading).get(None) or Measured()
    counts = measured.counts
    created = counts["created"]
    repeat_contacts = counts["repeats"] + counts["reopens"]
    ttr, business, response = measured.stats("ttr"), measured.stats("ttr_business"), measured.stats("response")
    return {
        "created": created,
        "resolution_rate": ratio(counts["done"], created),
        "time_to_resolve": {"median": ttr["median"], "p90": ttr["p90"], "mean": ttr["mean"],
                            "business_median": business["median"]},
        "first_response": {"median": response["median"], "p90": response["p90"]},
        "repeat_contacts": repeat_contacts,
        "repeat_contact_rate": ratio(repeat_contacts, created),
        "flr_rate": ratio(counts["flr"], counts["resolved"]),
        "fcr_rate": ratio(counts["fcr"], counts["resolved"]),
        "escalation_rate": ratio(counts["escalated"], created),
        "escalation_defects": counts["defects"],
        "sla_compliance": {
            "resolution": ratio(counts["in_time"], counts["with_due"]),
            "response": ratio(counts["responded_in_time"], counts["responded"]),
        },
        "csat": {
            "mean": ratio(counts["rating_sum"], counts["rated"]),
            "share_satisfied": ratio(counts["satisfied"], counts["rated"]),
            "count": counts["rated"],
        },
        "backlog": backlog(scope.tickets()) if with_backlog else None,
    }


AGE_BUCKETS = (("<1d", 0, 1), ("1-3d", 1, 3), ("3-7d", 3, 7), (">7d", 7, None))


def backlog(tickets, *, now=None) -> dict:
    """Open tickets now, by tier, status and age (one query, from the backlog index alone)."""
    now = now or timezone.now()
    day = timedelta(days=1)
    ages = {}
    for name, newer, older in AGE_BUCKETS:
        condition = Q(created_at__lte=now - newer * day) if newer else Q()
        if older is not None:
            condition &= Q(created_at__gt=now - older * day)
        ages[f"age_{name}"] = Count("created_at", filter=condition)
    rows = tickets.filter(status__in=OPEN_STATUSES).values("tier_id", "status").annotate(
        n=Count("*"), **ages).order_by()
    by_tier, by_status, by_age, total = {}, {}, {name: 0 for name, _newer, _older in AGE_BUCKETS}, 0
    for row in rows:
        code = tier_by_id(row["tier_id"]).code
        by_tier[code] = by_tier.get(code, 0) + row["n"]
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        for name in by_age:
            by_age[name] += row[f"age_{name}"]
        total += row["n"]
    return {"total": total, "by_tier": by_tier, "by_status": by_status, "by_age": by_age}


# --- breakdowns and trends ------------------------------------------------------

BREAKDOWNS = ("tier", "category", "agent")


def _groups(by: str) -> list[tuple]:
    """(id, key, label) of every tier, category or agent, in display order."""
    if by == "tier":
        return [(t.pk, t.code, f"{t.code} {t.name}") for t in Tier.objects.order_by("level")]
    if by == "category":
        return [(c.pk, c.slug, c.name) for c in Category.objects.order_by("name")]
    users = get_user_model().objects.filter(tier_memberships__isnull=False).distinct().order_by("username")
    return [(u.pk, u.username, u.get_full_name() or u.username) for u in users]


def breakdown(*, start=None, end=None, by: str, tier=None, category=None, agent=None, use_rollups: bool = True,
              reading: Reading | None = None) -> list[dict]:
    """The main metrics per tier, category or agent, in a fixed number of queries.

    Per tier, the escalation rate is the tier's own: of the tickets created in the period that were ever at the
    tier, the share escalated out of it. Per category and agent it is the share of created tickets escalated."""
    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}")
    reading = reading or Reading(start=start, end=end, tier=tier, category=category, agent=agent,
                                 use_rollups=use_rollups, durations=("ttr",))
    measured = measure(reading, by=by, durations=("ttr",))
    flow = reading.flow() if by == "tier" else Counter()
    rows = []
    for pk, key, label in _groups(by):
        found = measured.get(pk) or Measured()
        counts = found.counts
        ttr = found.stats("ttr")
        if by == "tier":
            escalation = ratio(flow[(pk, "escalated_out")], flow[(pk, "visited")])
        else:
            escalation = ratio(counts["escalated"], counts["created"])
        rows.append(
            {
                "key": key,
                "label": label,
                "created": counts["created"],
                "resolution_rate": ratio(counts["done"], counts["created"]),
                "ttr_median": ttr["median"],
                "ttr_p90": ttr["p90"],
                "repeat_contact_rate": ratio(counts["repeats"] + counts["reopens"], counts["created"]),
                "escalation_rate": escalation,
                "fcr_rate": ratio(counts["fcr"], counts["resolved"]),
                "sla_resolution": ratio(counts["in_time"], counts["with_due"]),
                "csat_mean": ratio(counts["rating_sum"], counts["rated"]),
            }
        )
    return rows


def weakest(rows: list[dict], metric: str, n: int = 5) -> list[dict]:
    """The n worst rows for a metric where higher is worse (repeat contacts, time to resolve)."""
    # Only rows with something to improve: nothing undefined, nothing at zero.
    return sorted((r for r in rows if r.get(metric)), key=lambda r: r[metric], reverse=True)[:n]


def trend(*, start=None, end=None, step: str = "day", tier=None, category=None, agent=None,
          use_rollups: bool = True, reading: Reading | None = None) -> list[dict]:
    """Created, resolved, median time to resolve and repeat contacts per day or week (weeks start on Monday)."""
    if step not in ("day", "week"):
        raise ValueError(f"Unknown step {step!r}")
    reading = reading or Reading(start=start, end=end, tier=tier, category=category, agent=agent,
                                 use_rollups=use_rollups, durations=("ttr",))
    measured = measure(reading, by=step, durations=("ttr",))
    start, end = reading.start, reading.end
    day = timezone.localdate(start)
    if step == "week":
        day = _week(day)
    rows = []
    # One row per bucket that starts before the end of the period.
    while midnight(day) < end:
        found = measured.get(day) or Measured()
        counts = found.counts
        rows.append({"period": day, "created": counts["created"], "resolved": counts["resolved"],
                     "ttr_median": found.stats("ttr")["median"],
                     "repeat_contacts": counts["repeats"] + counts["reopens"]})
        day += timedelta(days=1 if step == "day" else 7)
    return rows
