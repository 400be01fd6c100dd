"""Every dashboard number opens the list of tickets behind it, and the list adds up to the number."""
import csv
import io
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from metrics import selectors
from metrics.drilldown import DRILLS, tickets_behind
from metrics.facts import Scope
from tests.factories import make_ticket
from tests.metrics.test_oracle import START, histories
from tickets.models import Event, Ticket
from tiers.models import Tier

pytestmark = pytest.mark.django_db

NOW = START + timedelta(days=60)
PERIOD = (START, NOW)
EVERYTHING = Scope()


@pytest.fixture
def history():
    with time_machine.travel(START - timedelta(days=1), tick=False):
        histories(seed=5, count=250)


def counts(metric, scope=EVERYTHING, **extra):
    found = tickets_behind(metric, scope, *PERIOD, **extra)
    counted = DRILLS[metric].counted
    return found.count(), (found.filter(**{counted: True}).count() if counted else None)


@pytest.mark.parametrize("scope", [Scope(), "L1", "L2"])
def test_each_list_adds_up_to_its_number(history, scope):
    if isinstance(scope, str):
        scope = Scope(tier=Tier.objects.get(code=scope))
    summary = selectors.summary(start=PERIOD[0], end=PERIOD[1], tier=scope.tier)
    assert counts("created", scope)[0] == summary["created"] > 0
    rates = {
        "resolution_rate": summary["resolution_rate"],
        "flr_rate": summary["flr_rate"],
        "fcr_rate": summary["fcr_rate"],
        "escalation_rate": summary["escalation_rate"],
        "sla_resolution": summary["sla_compliance"]["resolution"],
        "sla_response": summary["sla_compliance"]["response"],
        "csat": summary["csat"]["share_satisfied"],
    }
    for metric, rate in rates.items():
        total, counted = counts(metric, scope)
        assert (counted / total if total else None) == pytest.approx(rate, abs=1e-12) if rate is not None \
            else total == 0, metric
    assert counts("csat", scope)[0] == summary["csat"]["count"]
    resolved = counts("time_to_resolve", scope)[0]
    assert resolved == counts("flr_rate", scope)[0]
    # Repeat contacts: repeat tickets plus reopens (a ticket reopened twice is listed once, counted twice).
    reopens = Event.objects.filter(kind="reopened", at__gte=PERIOD[0], at__lt=PERIOD[1],
                                   **({"ticket__tier": scope.tier} if scope.tier else {}))
    listed = set(tickets_behind("repeat_contacts", scope, *PERIOD).values_list("pk", flat=True))
    assert listed == set(
        Ticket.objects.filter(created_at__gte=PERIOD[0], created_at__lt=PERIOD[1], repeat_of__isnull=False,
                              **({"tier": scope.tier} if scope.tier else {})).values_list("pk", flat=True)
    ) | set(reopens.values_list("ticket_id", flat=True))
    assert summary["repeat_contacts"] >= len(listed) > 0


def test_a_tiers_escalation_list_adds_up_to_its_breakdown_rate(history):
    rows = {row["key"]: row for row in selectors.breakdown(start=PERIOD[0], end=PERIOD[1], by="tier")}
    for code in ("L1", "L2"):
        total, counted = counts("tier_escalation", at_tier=Tier.objects.get(code=code))
        assert total and counted / total == pytest.approx(rows[code]["escalation_rate"], abs=1e-12)


def get(client, user, **params):
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        return client.get("/dashboard/tickets/", params)


def test_the_page_lists_marks_and_pages_the_tickets(client, mona, history):
    params = {"from": PERIOD[0].date().isoformat(), "to": (NOW - timedelta(days=1)).date().isoformat()}
    response = get(client, mona, metric="fcr_rate", **params)
    html = response.content.decode()
    assert response.status_code == 200
    total, counted = counts("fcr_rate")
    assert re.search(rf"\b{total}\b tickets", html) and f'<strong id="drill-counted">{counted}</strong>' in html
    assert html.count("<tr data-ticket-id=") == 50 and 'rel="next"' in html
    marked = re.findall(r'data-counted="(yes|no)"', html)
    assert set(marked) == {"yes", "no"}
    second = get(client, mona, metric="fcr_rate", page=2, **params).content.decode()
    first_ids = set(re.findall(r'data-ticket-id="(\d+)"', html))
    assert first_ids.isdisjoint(re.findall(r'data-ticket-id="(\d+)"', second))


def test_the_csv_holds_every_ticket_of_the_list(client, mona, history):
    params = {"from": PERIOD[0].date().isoformat(), "to": (NOW - timedelta(days=1)).date().isoformat()}
    response = get(client, mona, metric="escalation_rate", format="csv", **params)
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    total, counted = counts("escalation_rate")
    assert rows[0][-1] == "was_escalated" and len(rows) - 1 == total
    assert sum(row[-1] == "True" for row in rows[1:]) == counted


def test_a_trend_bucket_narrows_the_list_to_its_day(client, mona, history):
    day = (START + timedelta(days=3)).date()
    html = get(client, mona, metric="created", period="custom", **{"from": START.date().isoformat(),
               "to": (NOW - timedelta(days=1)).date().isoformat()}, day=day.isoformat()).content.decode()
    expected = Ticket.objects.filter(created_at__date=day).count()
    assert expected and re.search(rf"\b{expected}\b ticket", html)
    assert get(client, mona, metric="created", day="not-a-day").status_code == 404


def test_only_managers_see_the_lists_and_unknown_metrics_are_404(client, alice, mona, history):
    assert get(client, alice, metric="created").status_code == 403
    client.logout()
    assert client.get("/dashboard/tickets/", {"metric": "created"}).status_code == 302
    assert get(client, mona, metric="nope").status_code == 404
    assert get(client, mona, metric="tier_escalation", at_tier="L9").status_code == 404


def test_customer_text_is_shown_literally(client, mona):
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        make_ticket(subject='<img src=x onerror=alert(1)>{{7*7}}')
    html = get(client, mona, metric="created", period="7d").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;{{7*7}}" in html and "<img src=x" not in html


def test_every_number_on_the_dashboard_opens_a_list_that_loads(client, mona, history):
    client.force_login(mona)
    with time_machine.travel(NOW, tick=False):
        html = client.get("/dashboard/", {"period": "90d"}).content.decode()
        links = {unescape(href) for href in re.findall(r'href="(/dashboard/tickets/\?[^"]+)"', html)}
        metrics = {parse_qs(urlsplit(link).query)["metric"][0] for link in links}
        assert metrics == set(DRILLS)
        for kpi in re.findall(r'<div class="kpi".*?</div>', html, re.S):
            if 'data-metric="deflected_contacts"' in kpi:
                # Contacts an article answered never became tickets: the number opens the deflections themselves.
                assert '<dd class="value"><a href="/admin/knowledge/deflection/?at__gte=' in kpi
                continue
            assert '<dd class="value"><a href="/dashboard/tickets/?' in kpi
        for link in links:
            assert client.get(link).status_code == 200, link
