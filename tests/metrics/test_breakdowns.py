"""Breakdowns, weakest spots and trends agree with the summary they are made of."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from metrics import selectors
from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def history(as_alice, as_mona):
    network, access = CategoryFactory(name="Network", slug="network"), CategoryFactory(name="Access", slug="access")
    made = []
    for day in range(6):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            t = make_ticket(category=network if day % 2 else access, requester_email=f"u{day % 3}@example.com")
            services.ticket_take(actor=as_alice, ticket_id=t.pk)
        with time_machine.travel(T0 + timedelta(days=day, hours=day + 1), tick=False):
            services.ticket_resolve(actor=as_alice, ticket_id=t.pk, summary="ok", affected_item="a",
                                    steps_before="b", findings="c")
        made.append(t)
    with time_machine.travel(T0 + timedelta(days=2, hours=5), tick=False):
        services.ticket_escalate(actor=as_mona, ticket_id=make_ticket(category=network).pk, reason="up")
    return made


def test_breakdown_rows_are_the_summary_of_each_group(history, alice):
    start, end = T0, T0 + timedelta(days=10)
    by_category = {row["key"]: row for row in selectors.breakdown(start=start, end=end, by="category")}
    network = selectors.summary(start=start, end=end, category=history[1].category)
    assert by_category["network"]["created"] == network["created"] == 4
    assert by_category["network"]["ttr_median"] == network["time_to_resolve"]["median"]
    assert by_category["access"]["escalation_rate"] == 0
    by_tier = {row["key"]: row for row in selectors.breakdown(start=start, end=end, by="tier")}
    assert by_tier["L1"]["created"] == 6 and by_tier["L2"]["created"] == 1
    by_agent = {row["key"]: row for row in selectors.breakdown(start=start, end=end, by="agent")}
    assert by_agent["alice"]["created"] == 6
    with pytest.raises(ValueError):
        selectors.breakdown(start=start, end=end, by="colour")


def test_weakest_ranks_the_worst_first_and_skips_undefined():
    rows = [{"key": "a", "ttr_median": 10}, {"key": "b", "ttr_median": None}, {"key": "c", "ttr_median": 30},
            {"key": "d", "ttr_median": 0}]
    assert [r["key"] for r in selectors.weakest(rows, "ttr_median", n=5)] == ["c", "a"]


def test_trend_per_day_and_week(history):
    midnight = T0.replace(hour=0)
    days = selectors.trend(start=midnight, end=midnight + timedelta(days=6), step="day")
    assert [row["period"] for row in days] == [(T0 + timedelta(days=n)).date() for n in range(6)]
    assert [row["created"] for row in days] == [1, 1, 2, 1, 1, 1]
    assert [row["resolved"] for row in days] == [1] * 6
    assert [row["ttr_median"] for row in days] == [3600.0 * (n + 1) for n in range(6)]
    assert sum(row["repeat_contacts"] for row in days) == selectors.summary(
        start=midnight, end=midnight + timedelta(days=6))["repeat_contacts"]
    # A period ending at 10:00 has a last, partial day.
    assert len(selectors.trend(start=T0, end=T0 + timedelta(days=6), step="day")) == 7
    weeks = selectors.trend(start=T0, end=T0 + timedelta(days=10), step="week")
    assert weeks[0]["period"].weekday() == 0 and sum(w["created"] for w in weeks) == 7


def test_trend_counts_reopens_as_repeat_contacts_like_the_summary(history, as_alice):
    with time_machine.travel(T0 + timedelta(days=3, hours=12), tick=False):
        services.ticket_reopen(actor=as_alice, ticket_id=history[0].pk, reason="again")
    midnight = T0.replace(hour=0)
    days = selectors.trend(start=midnight, end=midnight + timedelta(days=6), step="day")
    assert days[3]["repeat_contacts"] >= 1
    assert sum(row["repeat_contacts"] for row in days) == selectors.summary(
        start=midnight, end=midnight + timedelta(days=6))["repeat_contacts"]


def test_backlog_by_age(history):
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        assert selectors.backlog(Ticket.objects.all())["by_age"] == {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 1}
    with time_machine.travel(T0 + timedelta(days=2, hours=5 + 30), tick=False):
        assert selectors.backlog(Ticket.objects.all())["by_age"] == {"<1d": 0, "1-3d": 1, "3-7d": 0, ">7d": 0}


def test_breakdown_and_trend_api(history, mona):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(mona)
    params = {"from": T0.isoformat(), "to": (T0 + timedelta(days=10)).isoformat()}
    rows = client.get("/api/v1/metrics/breakdown/", {**params, "by": "category"}).json()
    assert {r["key"]: r["created"] for r in rows} == {"access": 3, "network": 4}
    points = client.get("/api/v1/metrics/trend/", {**params, "step": "week"}).json()
    assert sum(p["created"] for p in points) == 7
    assert client.get("/api/v1/metrics/breakdown/", {"by": "colour"}).status_code == 400
    too_many = client.get("/api/v1/metrics/trend/", {"from": "2000-01-01T00:00:00Z", "step": "day"})
    assert too_many.status_code == 400 and too_many.json()["code"] == "invalid"
