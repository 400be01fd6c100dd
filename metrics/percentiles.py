"""Exact medians, p90s and means of durations over rollups plus live values, without sorting a year each time.

A continuous percentile needs two order statistics: the values at ranks
⌊p⌋ and ⌊p⌋ + 1 of the sorted multiset, p = (n − 1) · fraction. The multiset
here is R − X + L: R the durations stored in the rollup rows of a day range,
X those of the days in that range that changed since the last refresh (read
live instead), L the live durations. R is large (a year of tickets) and
changes only when a refresh rewrites rollups; X and L are small.

So for R we keep, per group, its size, its sum and the sorted values in a
window of ranks around the median and the p90 — computed by one sorting query,
then kept in the cache under the rollups' version, which every refresh that
writes rows bumps. A request removes X from and inserts L into those windows
and reads the ranks it needs; if they fall outside the window (a day with an
unusually large live part) it sorts everything instead. Both ways give the
very same values, and the interpolation is the one formula of `interpolate`.
"""
import bisect
import hashlib
import logging
import math

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

FRACTIONS = (0.5, 0.9)
# Ranks kept on each side of the median and the p90 of every group: enough while the values read live (today,
# the edges of the period, days changed since the last refresh) number fewer than this.
WINDOW = 1500
CACHE_SECONDS = 24 * 3600


def ranks(n: int, fraction: float) -> tuple[int, int]:
    """The two ranks (0-based) a continuous percentile interpolates between."""
    position = (n - 1) * fraction
    low = math.floor(position)
    return low, min(low + 1, n - 1)


def interpolate(n: int, fraction: float, at) -> float:
    """The continuous percentile from `at(rank)`, the value at a rank (what percentile_cont computes)."""
    position = (n - 1) * fraction
    low, high = ranks(n, fraction)
    return at(low) + (at(high) - at(low)) * (position - low)


def stats_of(values: list) -> dict | None:
    """{n, sum, 0.5, 0.9} of a plain list of values."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return {"n": n, "sum": sum(ordered), **{f: interpolate(n, f, ordered.__getitem__) for f in FRACTIONS}}


def _merge(start: int, values: list, n: int, removed: list, added: list) -> tuple[int, list]:
    """A window of sorted values from rank `start` of a multiset of `n`, with `removed` taken out of and `added`
    put into the multiset: the new first rank and values. Equal values are interchangeable, so a removed value
    equal to the window's first may as well be one ranked below it. A window that reaches either end of the
    multiset takes in every added value beyond that end."""
    low_value = values[0] if start > 0 else -math.inf
    high_value = values[-1] if start + len(values) < n else math.inf
    merged = list(values)
    for value in removed:
        if value < low_value:
            start -= 1
        elif value <= high_value:
            where = bisect.bisect_left(merged, value)
            if where < len(merged) and merged[where] == value:
                merged.pop(where)
            elif value == values[0]:
                start -= 1
        # above the window: the ranks inside it do not move
    for value in added:
        if value < low_value:
            start += 1
        elif value <= high_value:
            bisect.insort(merged, value)
    return start, merged


class Windows:
    """What is kept of a group's sorted values: their number, their sum, and for each fraction a run of
    consecutive ranks (first rank, values) around the ranks it interpolates between."""

    def __init__(self, n: int, total: int):
        self.n, self.total = n, total
        self.runs: dict = {}

    def combine(self, removed: list, added: list) -> dict | None:
        """{n, sum, 0.5, 0.9} of (these values − removed + added), or None if a run is too short for that."""
        n = self.n - len(removed) + len(added)
        if n <= 0:
            return None
        result = {"n": n, "sum": self.total - sum(removed) + sum(added)}
        for fraction in FRACTIONS:
            start, values = self.runs[fraction]
            start, merged = _merge(start, values, self.n, removed, added)
            low, high = ranks(n, fraction)
            if not merged or low < start or high >= start + len(merged):
                return None
            # Bound as defaults: each fraction has its own window.
            result[fraction] = interpolate(n, fraction, lambda rank, merged=merged, start=start: merged[rank - start])
        return result


def windows_sql(values_sql: str, width: int, key_type: str) -> str:
    """Per group: size, sum, and (rank, value) of every value within `width` ranks of those the median and the
    p90 interpolate between. `values_sql` yields (g, x)."""
    near = " OR ".join(
        f"(rn BETWEEN floor((n - 1) * {f}::float8) - {width} AND floor((n - 1) * {f}::float8) + 1 + {width})"
        for f in FRACTIONS
    )
    # Formatted from the callers' own SQL, FRACTIONS, an int and a type name; values are always parameters.
    return (
        "SELECT g, n, total, rn, x FROM ("  # noqa: S608 - our SQL, see above  # nosec B608
        "  SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x) - 1 AS rn,"
        "         count(*) OVER (PARTITION BY g) AS n, sum(x) OVER (PARTITION BY g) AS total"
        f"  FROM (SELECT g::{key_type}, x FROM ({values_sql}) AS u(g, x)) AS v(g, x)"
        f") ranked WHERE {near} ORDER BY g, rn"
    )


def fetch_windows(values_sql: str, params, width: int, key_type: str) -> dict:
    """{group: Windows} from the database; `values_sql` yields (group, value) pairs."""
    found: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(windows_sql(values_sql, width, key_type), params)
        for g, n, total, rn, x in cursor.fetchall():
            group = found.get(g)
            if group is None:
                group = found[g] = Windows(n, int(total))
            for fraction in FRACTIONS:
                low, high = ranks(n, fraction)
                if low - width <= rn <= high + width:
                    _start, values = group.runs.setdefault(fraction, (rn, []))
                    values.append(x)
    return found


def cache_key(*parts) -> str:
    return "metrics:windows:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def cached(key: str, compute):
    """The value kept under `key`, computed (and kept) when missing; the cache being down only costs time."""
    return cached_many({None: key}, lambda missing: {None: compute()})[None]


def cached_many(keys: dict, compute) -> dict:
    """{name: value} for `keys` ({name: cache key}); `compute(missing names)` gives {name: value} of the ones the
    cache does not hold, which are then kept."""
    try:
        found = cache.get_many(list(keys.values()))
    except Exception:
        logger.warning("Metrics cache unavailable; computing directly", exc_info=True)
        found = {}
    values = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in keys if name not in values]
    if missing:
        computed = compute(missing)
        values.update(computed)
        try:
            cache.set_many({keys[name]: computed[name] for name in missing}, CACHE_SECONDS)
        except Exception:
            logger.warning("Metrics cache unavailable; values not kept", exc_info=True)
    return values
