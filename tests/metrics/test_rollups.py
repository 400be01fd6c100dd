"""Daily rollups: numbers read from them equal numbers read live, late changes never show stale figures,
the refresh is idempotent, and `rebuild_metrics` rebuilds history."""
import io
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metrics import percentiles, rollups, selectors
from metrics.models import DailyMetrics, DailyTierFlow, RollupState
from metrics.rollups import Plan
from metrics.tasks import refresh_rollups
from tests.factories import CategoryFactory
from tests.metrics.test_oracle import START, histories
from tickets import services
from tickets.deadlines import business_time_to_resolve
from tickets.models import Category, Event, Ticket
from tickets.policy import Actor
from tiers.models import Tier

pytestmark = pytest.mark.django_db

NOW = START + timedelta(days=60)


@pytest.fixture
def history():
    with time_machine.travel(START - timedelta(days=1), tick=False):
        histories(seed=11, count=300)
    last = Ticket.objects.order_by("-created_at").first().created_at
    assert last < NOW - timedelta(days=5), "the history must end before the days rolled up"


def periods():
    """Whole days, days with ragged edges, a period reaching into today, and a single hour."""
    day = timezone.localdate(START) + timedelta(days=2)
    midnight = rollups.midnight
    return [
        (midnight(day), midnight(day + timedelta(days=14))),
        (midnight(day) + timedelta(hours=7, minutes=13), midnight(day + timedelta(days=20)) + timedelta(hours=3)),
        (START - timedelta(days=3), NOW),
        (midnight(day + timedelta(days=5)) + timedelta(hours=9),
         midnight(day + timedelta(days=5)) + timedelta(hours=10)),
    ]


def every_answer(start, end, *, use_rollups, **chosen):
    return {
        "summary": selectors.summary(start=start, end=end, use_rollups=use_rollups, **chosen),
        **{f"by_{by}": selectors.breakdown(start=start, end=end, by=by, use_rollups=use_rollups, **chosen)
           for by in selectors.BREAKDOWNS},
        **{f"trend_{step}": selectors.trend(start=start, end=end, step=step, use_rollups=use_rollups, **chosen)
           for step in ("day", "week")},
    }


def filter_choices():
    agent = get_user_model().objects.filter(pk__in=Ticket.objects.values("assignee")).order_by("pk").first()
    assert agent is not None
    return [{}, {"tier": Tier.objects.get(code="L1")}, {"tier": Tier.objects.get(code="L2")},
            {"category": Category.objects.order_by("slug").first()}, {"agent": agent}]


def assert_rollups_equal_live():
    used = 0
    for start, end in periods():
        used += Plan(start, end).uses_rollups
        for chosen in filter_choices():
            assert every_answer(start, end, use_rollups=True, **chosen) == every_answer(
                start, end, use_rollups=False, **chosen), (start, end, chosen)
    assert used >= 3, "the periods must read rollups, or this compares live with live"


@pytest.mark.parametrize("zone, window", [("UTC", None), ("America/New_York", None), ("UTC", 0)])
def test_rollups_give_the_same_numbers_as_live_queries(history, settings, monkeypatch, zone, window):
    """Also with no kept window to speak of, where every percentile falls back to sorting all values."""
    settings.TIME_ZONE = zone
    sorted_all = []
    if window is not None:
        monkeypatch.setattr(percentiles, "WINDOW", window)
        original = selectors._duration_stats_sorting_all
        monkeypatch.setattr(selectors, "_duration_stats_sorting_all",
                            lambda *args: sorted_all.append(1) or original(*args))
    with time_machine.travel(NOW, tick=False):
        call_command("rebuild_metrics", "--no-progress", stdout=io.StringIO())
        assert DailyMetrics.objects.count() > 50 and DailyTierFlow.objects.exists()
        # The stored durations are the exact ones, and the counts add up to the tickets.
        assert sum(row.created for row in DailyMetrics.objects.all()) == Ticket.objects.count()
        # A duplicate closed by a merge was never resolved: it has no time to resolve.
        assert sum(len(row.ttr) for row in DailyMetrics.objects.all()) == Ticket.objects.filter(
            status__in=("resolved", "closed"), merged_into__isnull=True).count()
        assert_rollups_equal_live()
    if window is not None and connection.vendor == "postgresql":
        assert sorted_all, "the fallback was exercised"


def test_a_late_change_is_read_live_until_the_refresh_recomputes_its_days(history):
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild()
        ticket = Ticket.objects.filter(status="resolved").order_by("created_at").first()
        created_day, resolved_day = timezone.localdate(ticket.created_at), timezone.localdate(ticket.resolved_at)
        period = (rollups.midnight(created_day - timedelta(days=3)), rollups.midnight(resolved_day + timedelta(days=3)))
        resolved_before = sum(DailyMetrics.objects.filter(day=resolved_day).values_list("resolved", flat=True))
        before = selectors.summary(start=period[0], end=period[1])
        services.ticket_reopen(actor=Actor.customer(ticket.requester), ticket_id=ticket.pk, reason="still broken")
        plan = Plan(*period)
        assert {created_day, resolved_day} <= plan.excluded, "the changed ticket's days are read live"
        after = selectors.summary(start=period[0], end=period[1])
        assert after["resolution_rate"] < before["resolution_rate"]
        assert_rollups_equal_live()

        # The first refresh recomputes the days; the second moves the safe mark past the change.
        refresh_rollups.apply().get()
        refresh_rollups.apply().get()
        assert not Plan(*period).excluded
        assert sum(DailyMetrics.objects.filter(day=resolved_day).values_list("resolved", flat=True)) == (
            resolved_before - 1)
        assert selectors.summary(start=period[0], end=period[1]) == after
        assert_rollups_equal_live()


def snapshot():
    return sorted((r.day, r.tier_id, r.category_id or 0, r.assignee_id or 0, r.created, r.resolved, r.reopens,
                   tuple(r.ttr), tuple(r.response)) for r in DailyMetrics.objects.all())


def test_refresh_rolls_up_days_as_they_end_and_is_idempotent(history):
    with time_machine.travel(NOW, tick=False):
        first = rollups.refresh()
        assert first["rebuilt"] and RollupState.objects.get().until_day == timezone.localdate(NOW)
    rows = snapshot()
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        rollups.refresh()
        assert RollupState.objects.get().until_day == timezone.localdate(NOW) + timedelta(days=2)
        again = rollups.refresh()
        assert again["rows"] == 0
    assert snapshot() == rows
    rollups.recompute(sorted({r.day for r in DailyMetrics.objects.all()}))
    assert snapshot() == rows


def test_rollups_are_not_used_after_the_time_zone_changed(history, settings):
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild()
        start, end = periods()[0]
        assert Plan(start, end).uses_rollups
        settings.TIME_ZONE = "Asia/Tokyo"
        assert not Plan(start, end).uses_rollups
        rollups.refresh()
        assert RollupState.objects.get().time_zone == "Asia/Tokyo" and Plan(start, end).uses_rollups


def test_rebuild_metrics_draws_a_progress_bar(history):
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("rebuild_metrics", stdout=out, stderr=err)
    assert "Rolling up" in err.getvalue() and "100%" in err.getvalue()
    assert "Rolled up" in out.getvalue()
    state = RollupState.objects.get()
    assert state.safe_event_id == Event.objects.order_by("-id").first().pk


def test_the_beat_schedule_refreshes_the_rollups():
    entry = settings.CELERY_BEAT_SCHEDULE["metrics-rollups"]
    assert entry["task"] == refresh_rollups.name


@pytest.mark.parametrize("use_rollups", [True, False])
def test_queries_do_not_grow_with_groups(history, use_rollups):
    start, end = periods()[2]
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild()

        def count():
            with CaptureQueriesContext(connection) as queries:
                for by in selectors.BREAKDOWNS:
                    selectors.breakdown(start=start, end=end, by=by, use_rollups=use_rollups)
                selectors.summary(start=start, end=end, use_rollups=use_rollups)
            return len(queries)

        count()  # the first read keeps what later reads reuse
        before = count()
        for n in range(8):
            CategoryFactory(name=f"Extra {n}", slug=f"extra-{n}")
        assert count() == before


def test_days_are_local_days(history, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild()
    ticket = Ticket.objects.order_by("created_at").first()
    local_day = timezone.localdate(ticket.created_at)
    assert DailyMetrics.objects.filter(day=local_day, tier=ticket.tier, category=ticket.category,
                                       assignee=ticket.assignee, created__gte=1).exists()


def test_the_business_time_to_resolve_is_kept_and_backfilled(history):
    resolved = Ticket.objects.filter(status__in=("resolved", "closed"), merged_into__isnull=True)
    ticket = resolved.order_by("pk").first()
    assert ticket.resolve_business_us == business_time_to_resolve(ticket.created_at, ticket.resolved_at,
                                                                  ticket.tier_id, ticket.priority)
    assert not resolved.filter(resolve_business_us__isnull=True).exists()
    with time_machine.travel(NOW, tick=False):
        before = selectors.summary(start=START, end=NOW)
        # Tickets resolved before the business time was kept: computed live, filled in by the rebuild.
        resolved.update(resolve_business_us=None)
        assert selectors.summary(start=START, end=NOW) == before
        rollups.rebuild()
        assert resolved.filter(resolve_business_us__isnull=True).count() == 0
        assert Ticket.objects.get(pk=ticket.pk).resolve_business_us == ticket.resolve_business_us
        assert selectors.summary(start=START, end=NOW) == before


def test_a_refresh_that_rewrites_rollups_warms_the_dashboards_standard_periods(history, client, mona):
    from django.core.cache import cache

    client.force_login(mona)
    with time_machine.travel(NOW, tick=False):
        result = refresh_rollups.apply().get()
        assert result["rebuilt"] and result["warmed"] == ["7d", "30d", "90d", "365d"]
        with CaptureQueriesContext(connection) as warm:
            assert client.get("/dashboard/", {"period": "90d"}).status_code == 200
        cache.clear()
        with CaptureQueriesContext(connection) as cold:
            assert client.get("/dashboard/", {"period": "90d"}).status_code == 200
        assert len(warm) < len(cold)
        # Nothing rewritten, nothing to warm.
        assert "warmed" not in refresh_rollups.apply().get()


def test_the_dashboard_reads_the_rollups_state_once_whatever_periods_they_reach(history):
    """The dashboard shows a period and the one before it: the rollups' state and the days changed since their
    refresh are read once for both, whether the rollups reach one of them or both (before, a page of a
    three-year history ran one query more than a page of a one-year history)."""
    from metrics.dashboard import numbers, parse_filters

    day = timezone.localdate(START)
    both = parse_filters({"from": (day + timedelta(days=30)).isoformat(), "to": (day + timedelta(days=49)).isoformat()},
                         now=NOW)
    one = parse_filters({"from": day.isoformat(), "to": (day + timedelta(days=9)).isoformat()}, now=NOW)
    with time_machine.travel(NOW, tick=False):
        rollups.rebuild()
        # A late change to a rolled-up day: the days changed since the refresh are not empty.
        ticket = Ticket.objects.filter(status="resolved").order_by("pk").first()
        services.comment_add(actor=Actor.of_user(get_user_model().objects.get(username="boss")),
                             ticket_id=ticket.pk, body="A late note", internal=True)
        assert Plan(*both.previous).uses_rollups and Plan(both.start, both.end).uses_rollups
        assert not Plan(*one.previous).uses_rollups and Plan(one.start, one.end).uses_rollups

        for filters in (both, one):
            with CaptureQueriesContext(connection) as captured:
                numbers(filters)
            sql = [query["sql"] for query in captured]
            assert len([q for q in sql if 'FROM "metrics_rollupstate"' in q]) == 1
            assert len([q for q in sql if q.startswith('SELECT DISTINCT') and '"tickets_event"' in q]) == 1
