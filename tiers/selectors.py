"""Named reads of the tiers app."""
import itertools
import threading
import time

from tiers.models import SLAPolicy, Tier
from tiers.sla import Calendar

# Policies and calendars change rarely but are read on every transition and
# by the sweep for every due ticket, so each process keeps them briefly. An
# edit in the admin takes effect everywhere within this many seconds.
POLICY_CACHE_SECONDS = 10.0

_cache: dict = {}
_lock = threading.Lock()


def sla_policy_for(tier_id: int, priority: str) -> tuple[SLAPolicy, Calendar] | None:
    """The SLA policy of a tier and priority with its calendar, or None when there is none."""
    with _lock:
        if _cache.get("expires", 0) < time.monotonic():
            _cache["policies"] = _load()
            _cache["expires"] = time.monotonic() + POLICY_CACHE_SECONDS
        return _cache["policies"].get((tier_id, priority))


def clear_policy_cache() -> None:
    with _lock:
        _cache.clear()


def _load() -> dict:
    policies = SLAPolicy.objects.select_related("calendar").prefetch_related("calendar__days_off")
    calendars = {}
    loaded = {}
    for policy in policies:
        calendar = policy.calendar
        if calendar.pk not in calendars:
            calendars[calendar.pk] = calendar.to_calendar(day.date for day in calendar.days_off.all())
        loaded[(policy.tier_id, policy.priority)] = (policy, calendars[calendar.pk])
    return loaded


def tier_by_id(tier_id: int):
    return _tiers()["by_id"][tier_id]


def tier_above(tier_id: int):
    """The next tier up, or None at the top."""
    return _tiers()["above"].get(tier_id)


def tier_below(tier_id: int):
    """The next tier down, or None at the bottom."""
    return _tiers()["below"].get(tier_id)


def lowest_tier():
    return _tiers()["ordered"][0]


def _tiers() -> dict:
    with _lock:
        if _cache.get("tiers_expires", 0) < time.monotonic():
            ordered = list(Tier.objects.order_by("level"))
            _cache["tiers"] = {
                "ordered": ordered,
                "by_id": {tier.pk: tier for tier in ordered},
                "above": {low.pk: high for low, high in itertools.pairwise(ordered)},
                "below": {high.pk: low for low, high in itertools.pairwise(ordered)},
            }
            _cache["tiers_expires"] = time.monotonic() + POLICY_CACHE_SECONDS
        return _cache["tiers"]
