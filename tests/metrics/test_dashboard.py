"""The manager dashboard /dashboard/: who may see it, how the query is read, the CSV export, the query budget."""
import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from metrics import charts, selectors
from metrics.dashboard import change, human_duration, parse_filters, show
from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.policy import Actor
from tiers.models import Tier

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a Monday
NOW = T0 + timedelta(days=8)
URL = "/dashboard/"


@pytest.fixture
def history(alice, bob, mona, as_alice, as_mona):
    """Tickets over a week in two categories: resolved by Alice, one escalated to L2, one repeat, one rated;
    and one ticket in the previous period, for the comparison."""
    network = CategoryFactory(name="Network", slug="network")
    access = CategoryFactory(name="Access", slug="access")
    with time_machine.travel(T0 - timedelta(days=20), tick=False):
        old = make_ticket(category=network, requester_email="old@example.com")
        services.ticket_take(actor=as_alice, ticket_id=old.pk)
    with time_machine.travel(T0 - timedelta(days=19), tick=False):
        services.ticket_resolve(actor=as_alice, ticket_id=old.pk, summary="ok", affected_item="a",
                                steps_before="b", findings="c")
    made = []
    for day in range(6):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            ticket = make_ticket(category=network if day % 2 else access, requester_email=f"u{day % 3}@example.com")
            services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        if day < 4:
            with time_machine.travel(T0 + timedelta(days=day, hours=day + 1), tick=False):
                services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="ok", affected_item="a",
                                        steps_before="b", findings="c")
        made.append(ticket)
    with time_machine.travel(T0 + timedelta(days=4, hours=3), tick=False):
        services.ticket_close(actor=Actor.customer(made[0].requester), ticket_id=made[0].pk, csat=5)
    with time_machine.travel(T0 + timedelta(days=2, hours=5), tick=False):
        services.ticket_escalate(actor=as_mona, ticket_id=made[5].pk, reason="needs the network team")
    return made


def get(client, user, url=URL, **params):
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        return client.get(url, params)


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- who may see it ----------------------------------------------------------------------------------


def test_managers_see_the_dashboard(client, mona, history):
    response = get(client, mona)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard-filters"' in html
    for metric in ("created", "resolution_rate", "ttr_median", "repeat_contact_rate", "fcr_rate", "sla_resolution",
                   "csat_mean"):
        assert f'data-metric="{metric}"' in html
    for section in ("by_tier", "by_category", "by_agent", "weakest", "backlog", "trends"):
        assert f'id="{section}"' in html
    assert html.count("<svg") == 3 and "<title id=" in html and "<desc id=" in html


@pytest.mark.parametrize("url", [URL, "/dashboard/export/summary.csv"])
def test_agents_are_refused(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, "/dashboard/export/by_tier.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/dashboard/")


def test_only_get(client, mona):
    client.force_login(mona)
    assert client.post(URL).status_code == 405


# --- reading the query ---------------------------------------------------------------------------------


def test_default_period_is_the_last_30_days_per_day():
    filters = parse_filters({}, now=NOW)
    assert (filters.period, filters.start, filters.end, filters.step) == ("30d", NOW - timedelta(days=30), NOW, "day")
    assert filters.previous == (NOW - timedelta(days=60), NOW - timedelta(days=30))
    assert filters.problems == []


@pytest.mark.parametrize(("period", "days", "step"), [("7d", 7, "day"), ("30d", 30, "day"), ("90d", 90, "week"),
                                                      ("365d", 365, "week")])
def test_preset_periods(period, days, step):
    filters = parse_filters({"period": period}, now=NOW)
    assert filters.end - filters.start == timedelta(days=days)
    assert filters.step == step and not filters.problems


def test_custom_dates_include_both_days():
    filters = parse_filters({"period": "custom", "from": "2026-05-01", "to": "2026-05-31"}, now=NOW)
    assert filters.start == timezone.make_aware(datetime(2026, 5, 1))
    assert filters.end == timezone.make_aware(datetime(2026, 6, 1))
    assert filters.step == "day" and filters.previous[0] == timezone.make_aware(datetime(2026, 3, 31))
    # Dates alone mean a custom period; a longer one goes per week unless asked otherwise.
    filters = parse_filters({"from": "2026-01-01", "to": "2026-05-31", "step": "day"}, now=NOW)
    assert (filters.period, filters.step) == ("custom", "day")
    assert parse_filters({"from": "2026-01-01", "to": "2026-05-31"}, now=NOW).step == "week"


def test_filters_by_tier_category_and_agent(alice):
    CategoryFactory(name="Network", slug="network")
    filters = parse_filters({"tier": "L2", "category": "network", "agent": "alice", "step": "week"}, now=NOW)
    assert filters.tier == Tier.objects.get(code="L2")
    assert filters.category.slug == "network" and filters.agent == alice
    assert filters.step == "week" and not filters.problems
    assert filters.params() == {"period": "30d", "tier": "L2", "category": "network", "agent": "alice",
                                "step": "week"}


@pytest.mark.parametrize(
    "params",
    [
        {"period": "13d"},
        {"period": "custom", "from": "yesterday", "to": "2026-05-31"},
        {"period": "custom", "from": "2026-06-01", "to": "2026-05-01"},
        {"period": "custom", "from": "0001-01-01", "to": "0001-01-02"},
        {"period": "custom", "from": "1990-01-01", "to": "2026-01-01"},
        {"period": "custom"},
        {"from": "2026-02-30"},
        {"step": "hour"},
        {"from": "2024-01-01", "to": "2026-01-01", "step": "day"},
        {"tier": "L9"},
        {"category": "no-such-thing"},
        {"agent": "nobody"},
        {"tier": "L1\x00", "category": "x" * 5000, "agent": "\x00", "period": "\x00", "from": "\x00"},
    ],
)
def test_bad_input_gives_a_message_and_defaults(client, mona, params):
    filters = parse_filters(params, now=NOW)
    assert filters.problems
    assert filters.tier is filters.category is filters.agent is None
    if "step" not in params:  # a bad period falls back to the last 30 days
        assert (filters.period, filters.start, filters.end) == ("30d", NOW - timedelta(days=30), NOW)
    response = get(client, mona, **params)
    assert response.status_code == 200
    assert 'id="dashboard-problems"' in response.content.decode()
    assert get(client, mona, "/dashboard/export/summary.csv", **params).status_code == 200


def test_a_filtered_page_shows_the_filtered_numbers(client, mona, history):
    response = get(client, mona, tier="L2", period="7d")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="dashboard-problems"' not in html
    created = re.search(r'data-metric="created">\s*<dt>[^<]*</dt>\s*<dd class="value"><a [^>]*>([^<]*)</a></dd>', html)
    assert created.group(1) == str(selectors.summary(start=NOW - timedelta(days=7), end=NOW,
                                                     tier=Tier.objects.get(code="L2"))["created"]) == "1"
    assert '<option value="L2" selected>' in html
    # The CSV links keep the filters.
    assert "/dashboard/export/by_tier.csv?period=7d&amp;tier=L2" in html


def test_the_page_speaks_the_managers_language(client, mona, history):
    client.force_login(mona)
    with time_machine.travel(NOW, tick=False), translation.override("en"):  # the request switches the language
        html = client.get(URL, {"period": "custom", "from": "2026-06-01", "to": "2026-06-07"},
                          HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="ru">' in html
    assert re.search(r'data-metric="ttr_median">.*?<dd class="value"><a [^>]*>2\xa0часа, 30\xa0минут</a></dd>',
                     html, re.S)
    assert re.search(r'<dd class="value"><a [^>]*>66,7%</a></dd>', html)


def test_the_page_keeps_to_the_content_security_policy(client, mona, history):
    html = get(client, mona).content.decode()
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_links_open_the_tickets_behind_the_numbers(client, mona, history):
    html = get(client, mona, category="network").content.decode()
    assert 'href="/desk/?queue=open&amp;category=network&amp;tier=L1"' in html
    assert 'href="/desk/?queue=open&amp;category=network&amp;assignee=alice"' in html
    assert 'href="/desk/?queue=open&amp;category=network&amp;status=waiting"' in html
    assert 'href="/desk/?queue=open&amp;category=network"' in html


# --- formatting -------------------------------------------------------------------------------------


def test_durations_read_as_words_in_the_active_language():
    assert human_duration(None) == "—"
    assert human_duration(42) == "42 seconds"
    assert human_duration(5400).replace("\xa0", " ") == "1 hour, 30 minutes"
    assert human_duration(2 * 86400 + 3 * 3600 + 59).replace("\xa0", " ") == "2 days, 3 hours"
    with translation.override("ru"):
        assert human_duration(5400).replace("\xa0", " ") == "1 час, 30 минут"


def test_numbers_are_rounded_and_localised():
    assert show("rate", 2 / 3) == "66.7%" and show("score", 4.666) == "4.67" and show("rate", None) == "—"
    assert show("count", 12345) == "12,345"
    with translation.override("ru"):
        assert show("rate", 2 / 3) == "66,7%"


def test_changes_are_coloured_by_what_is_better():
    assert change("duration", 3600, 7200, "lower")["css"] == "better"
    assert change("duration", 3600, 7200, "lower")["arrow"] == "▼"
    assert change("rate", 0.2, 0.1, "lower")["css"] == "worse"
    assert change("rate", 0.2, 0.1, "lower")["text"] == "+10.0 pp"
    assert change("rate", 0.9, 0.8, "higher")["css"] == "better"
    assert change("count", 12, 10, None)["css"] == "neutral"
    assert change("count", 10, 10, None)["css"] == "same"
    assert change("score", 4.5, None, "higher")["css"] == "none"


def test_charts_are_accessible_svg_without_styles():
    svg = str(charts.line_chart(chart_id="c", title="T <b>", desc="D & more", labels=["1 Jun", "2 Jun", "3 Jun"],
                                series=[charts.Series("created", [1, None, 3]), charts.Series("x", [0, 0, 0])]))
    assert svg.startswith('<svg class="chart" id="c"') and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">T &lt;b&gt;</title>' in svg and "D &amp; more" in svg
    assert "style" not in svg and svg.count("<circle") == 5
    empty = str(charts.line_chart(chart_id="e", title="T", desc="D", labels=[], series=[charts.Series("a", [])]))
    assert "No data in this period" in empty
    counts = str(charts.line_chart(chart_id="n", title="T", desc="D", labels=["a", "b"],
                                   series=[charts.Series("n", [0, 1])], integer=True))
    assert re.findall(r'font-size="11">(\d+)</text>', counts)[:5] == ["0", "1", "2", "3", "4"]
    assert charts.nice_ceiling(7) == 10 and charts.nice_ceiling(0.3) == 0.5 and charts.nice_ceiling(0) == 1


# --- CSV -------------------------------------------------------------------------------------------------

CUSTOM = {"period": "custom", "from": "2026-05-25", "to": "2026-06-10"}
START, END = timezone.make_aware(datetime(2026, 5, 25)), timezone.make_aware(datetime(2026, 6, 11))


def cell(value) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)


def csv_response(client, mona, table, **params):
    response = get(client, mona, f"/dashboard/export/{table}.csv", **params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(rf'attachment; filename="tierdesk-{table}-\d{{8}}-\d{{8}}\.csv"',
                        response["Content-Disposition"])
    return rows_of(response)


def test_summary_csv_equals_the_summary(client, mona, history):
    rows = csv_response(client, mona, "summary", **CUSTOM)
    assert rows[0] == ["metric", "value"]
    values = dict(rows[1:])
    expected = selectors.summary(start=START, end=END)
    assert values["created"] == str(expected["created"]) == "6"
    assert values["time_to_resolve.median"] == cell(expected["time_to_resolve"]["median"])
    assert float(values["resolution_rate"]) == expected["resolution_rate"]
    assert values["csat.mean"] == cell(expected["csat"]["mean"])
    assert values["backlog.total"] == str(expected["backlog"]["total"])
    assert values["backlog.by_tier.L2"] == "1"
    assert values["first_response.p90"] == cell(expected["first_response"]["p90"])
    assert len(rows) > 20


@pytest.mark.parametrize("by", ["tier", "category", "agent"])
def test_breakdown_csv_equals_the_breakdown(client, mona, history, by):
    rows = csv_response(client, mona, f"by_{by}", **CUSTOM)
    expected = selectors.breakdown(start=START, end=END, by=by)
    assert rows[0][:3] == ["key", "label", "created"] and "ttr_median" in rows[0]
    assert len(rows) == len(expected) + 1 >= 3
    for row, want in zip(rows[1:], expected, strict=True):
        assert row == [cell(want[column]) for column in rows[0]]


def test_breakdown_csv_follows_the_filters(client, mona, alice, history):
    rows = csv_response(client, mona, "by_category", **CUSTOM, agent="alice", tier="L1")
    expected = selectors.breakdown(start=START, end=END, by="category", agent=alice,
                                   tier=Tier.objects.get(code="L1"))
    assert [r[2] for r in rows[1:]] == [str(w["created"]) for w in expected] == ["3", "2"]


def test_trend_csv_equals_the_trend(client, mona, history):
    rows = csv_response(client, mona, "trend", **CUSTOM)
    expected = selectors.trend(start=START, end=END, step="day")
    assert rows[0] == ["period", "created", "resolved", "ttr_median", "repeat_contacts"]
    assert rows[1:] == [[cell(w[c]) for c in rows[0]] for w in expected]
    assert rows[1][0] == "2026-05-25" and len(rows) == 1 + 17
    weekly = csv_response(client, mona, "trend", **CUSTOM, step="week")
    assert [r[0] for r in weekly[1:]] == ["2026-05-25", "2026-06-01", "2026-06-08"]


def test_backlog_csv(client, mona, history):
    rows = csv_response(client, mona, "backlog")
    assert rows[0] == ["dimension", "key", "count"]
    counts = {(d, k): int(n) for d, k, n in rows[1:]}
    with time_machine.travel(NOW, tick=False):
        backlog = selectors.summary(start=NOW - timedelta(days=30), end=NOW)["backlog"]
        ages = backlog["by_age"]
    assert counts[("total", "")] == backlog["total"] == 2
    assert counts[("tier", "L1")] == backlog["by_tier"]["L1"] and counts[("tier", "L3")] == 0
    assert counts[("status", "diagnosing")] == backlog["by_status"]["diagnosing"]
    assert {k: n for (d, k), n in counts.items() if d == "age"} == ages


def test_unknown_tables_are_not_found(client, mona):
    client.force_login(mona)
    assert client.get("/dashboard/export/passwords.csv").status_code == 404


def test_text_cells_cannot_become_formulas(client, mona, alice):
    CategoryFactory(name="=HYPERLINK(1)", slug="formula")
    rows = csv_response(client, mona, "by_category")
    assert rows[1][:2] == ["formula", "'=HYPERLINK(1)"]


# --- query budget ----------------------------------------------------------------------------------------


def add_tickets(n, categories, actor):
    for i in range(n):
        ticket = make_ticket(category=categories[i % len(categories)], priority=("P2", "P3")[i % 2],
                             requester_email=f"budget{i}@example.com")
        if i % 3:
            services.ticket_take(actor=actor, ticket_id=ticket.pk)
        if i % 3 == 2:
            services.ticket_resolve(actor=actor, ticket_id=ticket.pk, summary="ok", affected_item="a",
                                    steps_before="b", findings="c")


def page_queries(client) -> int:
    client.get(URL)  # warm the per-process caches (SLA policies, tiers)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries)


def test_the_page_needs_as_many_queries_for_50_tickets_as_for_5(client, mona, as_alice):
    categories = [CategoryFactory(name="Network", slug="network"), CategoryFactory(name="Access", slug="access")]
    client.force_login(mona)
    add_tickets(5, categories, as_alice)
    with_5 = page_queries(client)
    add_tickets(45, categories, as_alice)
    with_50 = page_queries(client)
    assert with_5 == with_50
