"""Anonymising a requester does not change a single metric: the summary, every breakdown and the trends for
the period are exactly equal before and after, live and from the daily rollups, and the rollups stay valid
(nothing to recompute, and a full rebuild gives the same rows)."""
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db.models import Count

from metrics import rollups, selectors
from metrics.models import DailyMetrics, DailyTierFlow
from privacy import services
from tests.metrics.test_oracle import START, histories
from tickets.models import Comment, Event, Requester, Ticket
from tickets.policy import Actor
from tiers.models import Tier

pytestmark = pytest.mark.django_db

NOW = START + timedelta(days=60)


def answers() -> dict:
    """Every metric the dashboard and the API show, for the whole history and a few narrower periods."""
    day = rollups.midnight(START.date())
    periods = [(START - timedelta(days=3), NOW), (day + timedelta(days=2), day + timedelta(days=9)),
               (day + timedelta(days=4, hours=9), day + timedelta(days=12, hours=15))]
    found = {}
    for start, end in periods:
        for use_rollups in (True, False):
            for chosen in ({}, {"tier": Tier.objects.get(code="L1")}):
                key = (start, end, use_rollups, tuple(chosen))
                found[key] = {
                    "summary": selectors.summary(start=start, end=end, use_rollups=use_rollups, **chosen),
                    **{by: selectors.breakdown(start=start, end=end, by=by, use_rollups=use_rollups, **chosen)
                       for by in selectors.BREAKDOWNS},
                    "trend": selectors.trend(start=start, end=end, step="day", use_rollups=use_rollups, **chosen),
                }
    return found


def rollup_rows() -> list:
    """The rollups' rows, without their ids (a rebuild writes new rows)."""
    return [sorted(repr({k: v for k, v in row.items() if k != "id"}) for row in model.objects.values())
            for model in (DailyMetrics, DailyTierFlow)]


def test_metrics_and_rollups_are_exactly_the_same_after_an_anonymisation(mona):
    with time_machine.travel(START - timedelta(days=1), tick=False):
        histories(seed=5, count=120)
    # The requester with the most history: tickets in every state, reopens with reasons, replies, ratings.
    busiest = Requester.objects.annotate(n=Count("tickets")).order_by("-n", "pk").first()
    tickets = Ticket.objects.filter(requester=busiest)
    kinds = Counter(Event.objects.filter(ticket__in=tickets).values_list("kind", flat=True))
    assert tickets.count() >= 3 and kinds["reopened"] + kinds["closed"] + kinds["escalated"] >= 2
    assert Comment.objects.filter(ticket__in=tickets).exists()

    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
        before, rows = answers(), rollup_rows()
        assert rows[0] and rows[1], "the rollups must hold the history, or only live numbers are compared"
        done = services.requester_anonymise(requester=busiest, actor=Actor.of_user(mona), reason="Erasure 21")
        assert done.events > 0 and done.comments > 0  # reasons and replies were there to replace

        assert answers() == before
        # Nothing the rollups read has changed: a refresh finds no day to recompute, a rebuild the same rows.
        assert rollups.refresh()["days"] == 0
        assert rollup_rows() == rows
        rollups.rebuild()
        assert rollup_rows() == rows
        assert answers() == before
