"""Keeping the daily rollups in step with the event log, and planning which days a query may read from them.

Every change to a ticket appends an event, and a ticket's facts sit on the days
of its events (creation, resolution, closing, reopens, de-escalations). So the
days a change can alter are exactly the days of the events of the tickets that
changed. `refresh` (a beat task) recomputes those days for events newer than the
last refresh, rolls up the days that have ended since, and advances the state.

Event ids are allocated in order but may commit out of order. A refresh
therefore reprocesses the events since the refresh before last: an event with an
id up to what the previous refresh saw was allocated before that refresh began,
and has committed by now as long as no transaction outlives a refresh interval.
Readers treat the days of tickets with events after `safe_event_id` as not yet
rolled up and read them live, so the numbers never lag the event log.
"""
import logging
import secrets
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from metrics.facts import DONE, Scope, by_cell, collect
from metrics.models import COUNTS, DURATIONS, DailyMetrics, DailyTierFlow, RollupState
from tickets.deadlines import business_time_to_resolve
from tickets.models import Event, Ticket

logger = logging.getLogger(__name__)

ONE_DAY = timedelta(days=1)
CHUNK_DAYS = 14  # days recomputed per pass (six queries each)


def midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def recompute(days) -> int:
    """Replace the rollup rows of `days` with their facts, read live now. Returns the number of rows written."""
    days = sorted(set(days))
    written = 0
    for offset in range(0, len(days), CHUNK_DAYS):
        chunk = days[offset:offset + CHUNK_DAYS]
        ranges = _merge([(midnight(day), midnight(day + ONE_DAY)) for day in chunk])
        facts = collect(ranges, Scope(), by_cell)
        rows, flows = [], []
        for (day, tier_id, category_id, assignee_id), found in facts.items():
            cell = {"day": day, "tier_id": tier_id, "category_id": category_id, "assignee_id": assignee_id}
            rows.append(DailyMetrics(**cell, **{name: found.counts[name] for name in COUNTS},
                                     **{name: found.durations[name] for name in DURATIONS}))
            tiers = {tier for tier, _kind in found.flow}
            flows.extend(
                DailyTierFlow(**cell, at_tier_id=tier, visited=found.flow[(tier, "visited")],
                              escalated_out=found.flow[(tier, "escalated_out")])
                for tier in tiers
            )
        with transaction.atomic():
            DailyMetrics.objects.filter(day__in=chunk).delete()
            DailyTierFlow.objects.filter(day__in=chunk).delete()
            DailyMetrics.objects.bulk_create(rows, batch_size=1000)
            DailyTierFlow.objects.bulk_create(flows, batch_size=1000)
        written += len(rows)
    return written


def _merge(ranges):
    """Sorted ranges with touching or overlapping ones joined."""
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _changed_days(after_event_id: int, first: date, until: date) -> set:
    """Local days in [first, until) holding events of the tickets that have events with an id above the mark."""
    changed = Event.objects.filter(id__gt=after_event_id).values("ticket_id")
    return set(
        Event.objects.filter(ticket_id__in=changed, at__gte=midnight(first), at__lt=midnight(until))
        .annotate(day=TruncDate("at"))
        .order_by()
        .values_list("day", flat=True)
        .distinct()
    )


def _max_event_id() -> int:
    return Event.objects.aggregate(top=Max("id"))["top"] or 0


BACKFILL_BATCH = 5000


def backfill_business_times() -> int:
    """Keep the business time to resolve on resolved tickets that lack it (resolved before it was kept)."""
    filled = 0
    last_id = 0
    while True:
        batch = list(
            Ticket.objects.filter(pk__gt=last_id, status__in=DONE, resolve_business_us__isnull=True)
            .order_by("pk").values_list("pk", "created_at", "resolved_at", "tier_id", "priority")[:BACKFILL_BATCH]
        )
        if not batch:
            return filled
        last_id = batch[-1][0]
        values = {pk: business_time_to_resolve(created, resolved, tier_id, priority)
                  for pk, created, resolved, tier_id, priority in batch if resolved is not None}
        values = {pk: us for pk, us in values.items() if us is not None}
        if connection.vendor == "postgresql" and values:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE tickets_ticket t SET resolve_business_us = v.us "
                    "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, us) WHERE t.id = v.id",
                    [list(values), list(values.values())],
                )
        elif values:
            Ticket.objects.bulk_update([Ticket(pk=pk, resolve_business_us=us) for pk, us in values.items()],
                                       ["resolve_business_us"], batch_size=500)
        filled += len(values)


def rebuild(*, progress=None, now=None) -> RollupState:
    """Recompute every day from the first event to yesterday. `progress(days_done, days_total)` is told along."""
    now = now or timezone.now()
    backfill_business_times()
    with transaction.atomic():
        state = _locked_state()
        mark = _max_event_id()
        today = timezone.localdate(now)
        earliest = Event.objects.aggregate(first=Min("at"))["first"]
        first = min(timezone.localdate(earliest), today) if earliest else today
        days = [first + timedelta(days=n) for n in range((today - first).days)]
        DailyMetrics.objects.all().delete()
        DailyTierFlow.objects.all().delete()
        for offset in range(0, len(days), CHUNK_DAYS):
            recompute(days[offset:offset + CHUNK_DAYS])
            if progress:
                progress(min(offset + CHUNK_DAYS, len(days)), len(days))
        state.time_zone = settings.TIME_ZONE
        state.first_day, state.until_day = first, today
        state.safe_event_id = state.seen_event_id = mark
        # A fresh random generation: what was derived from an earlier build (or another database) never matches.
        state.version = secrets.randbits(62)
        state.refreshed_at = now
        state.save()
    return state


def refresh(*, now=None) -> dict:
    """Recompute the days changed since the refresh before last and roll up the days ended since the last one.

    A refresh already running elsewhere makes this one return at once; the first refresh, or one after the
    time zone changed, rebuilds everything."""
    now = now or timezone.now()
    state = RollupState.objects.filter(pk=1).first()
    if state is None or state.until_day is None or state.time_zone != settings.TIME_ZONE:
        rebuilt = rebuild(now=now)
        return {"rebuilt": True, "until": rebuilt.until_day.isoformat()}
    with transaction.atomic():
        state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            return {"skipped": True}
        mark = _max_event_id()
        today = timezone.localdate(now)
        days = _changed_days(state.safe_event_id, state.first_day, state.until_day)
        days |= {state.until_day + timedelta(days=n) for n in range((today - state.until_day).days)}
        written = recompute(days)
        state.safe_event_id, state.seen_event_id = state.seen_event_id, mark
        state.until_day = max(state.until_day, today)
        if days:
            state.version += 1
        state.refreshed_at = now
        state.save()
    logger.info("Metrics rollups: %d days recomputed, %d rows", len(days), written)
    return {"days": len(days), "rows": written}


def _locked_state() -> RollupState:
    """The one state row, locked (created on first use)."""
    RollupState.objects.get_or_create(pk=1, defaults={"time_zone": settings.TIME_ZONE})
    return RollupState.objects.select_for_update().get(pk=1)


class Basis:
    """The rollups' state and the days changed since their last refresh, read once for all the periods one
    page shows (the dashboard's period and the one before it): two queries, however many years the rollups
    cover and whichever of the periods they reach."""

    def __init__(self):
        self._state = self._changed = None
        self._read = False

    @property
    def state(self) -> RollupState | None:
        """The refreshed state, or None if the rollups cannot be used (none yet, or another time zone)."""
        if not self._read:
            state = RollupState.objects.filter(pk=1).first()
            usable = state is not None and state.until_day is not None and state.time_zone == settings.TIME_ZONE
            self._state, self._read = (state if usable else None), True
        return self._state

    def changed_days(self, first: date, until: date) -> set:
        """The days in [first, until) changed since the last refresh (read for every rolled-up day at once)."""
        if self._changed is None:
            state = self.state
            self._changed = _changed_days(state.safe_event_id, state.first_day, state.until_day)
        return {day for day in self._changed if first <= day < until}


class Plan:
    """How to read [start, end): whole days from the rollups (a day range minus days changed since the last
    refresh) and everything else live. Plans given the same `basis` share its queries."""

    def __init__(self, start: datetime, end: datetime, *, use_rollups: bool = True, basis: Basis | None = None):
        self.first_day = self.until_day = None
        self.version = None
        self.excluded: set = set()
        self.live = [(start, end)] if start < end else []
        if not use_rollups:
            return
        basis = basis or Basis()
        state = basis.state
        if state is None:
            return
        first = timezone.localdate(start)
        if midnight(first) < start:
            first += ONE_DAY
        first = max(first, state.first_day)
        until = min(timezone.localdate(end), state.until_day)
        if first >= until:
            return
        self.first_day, self.until_day, self.version = first, until, state.version
        self.excluded = basis.changed_days(first, until)
        live = [(start, midnight(first)), (midnight(until), end)]
        live += [(midnight(day), midnight(day + ONE_DAY)) for day in self.excluded]
        self.live = _merge([(a, b) for a, b in live if a < b])

    @property
    def uses_rollups(self) -> bool:
        return self.first_day is not None

    def rollup_rows(self, model, scope: Scope, *, all_days: bool = False):
        """The rollup rows to read: the plan's day range, without the days read live unless `all_days`."""
        rows = model.objects.filter(day__gte=self.first_day, day__lt=self.until_day, **scope.rollup_filter())
        return rows.exclude(day__in=self.excluded) if self.excluded and not all_days else rows

    def excluded_rows(self, model, scope: Scope):
        """The rollup rows of the days in range that are read live instead."""
        return model.objects.filter(day__in=self.excluded, **scope.rollup_filter())
