"""The manager dashboard in headless Chromium: Mona signs in, narrows the period to 7 days, reads the headline
numbers and downloads a CSV.

DOM contract: the filter form `form#dashboard-filters` (`select[name=period]`, `#dashboard-apply`), headline
cards `[data-metric=…] .value`, CSV links `a#csv-<table>`, charts `svg.chart`.
"""
import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from tests.e2e.helpers import sign_in
from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.policy import Actor

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def resolve(actor, ticket):
    services.ticket_resolve(actor=actor, ticket_id=ticket.pk, summary="Replaced the cable", affected_item="Dock",
                            steps_before="Moved desks", findings="Loose cable")


def test_manager_reads_the_dashboard_and_downloads_a_csv(page, live_server, alice, mona, screenshot):
    categories = [CategoryFactory(name="Network", slug="network"), CategoryFactory(name="Printing", slug="printing")]
    as_alice = Actor.of_user(alice)
    now = timezone.now()
    # One ticket ten days ago (the previous period), six in the last six days: four resolved after 1–4 hours.
    with time_machine.travel(now - timedelta(days=10), tick=False):
        old = make_ticket(category=categories[0], requester_email="old@example.com")
        services.ticket_take(actor=as_alice, ticket_id=old.pk)
    with time_machine.travel(now - timedelta(days=10) + timedelta(hours=8), tick=False):
        resolve(as_alice, old)
    for n in range(6):
        created = now - timedelta(days=5 - n, hours=6)
        with time_machine.travel(created, tick=False):
            ticket = make_ticket(category=categories[n % 2], requester_email=f"caller{n}@example.com")
            services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
        if n < 4:
            with time_machine.travel(created + timedelta(hours=n + 1), tick=False):
                resolve(as_alice, ticket)

    sign_in(page, live_server, "mona")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("h1")).to_have_text("Manager dashboard")
    form = page.locator("form#dashboard-filters")
    expect(form.locator("select[name=period]")).to_have_value("30d")

    # Seven days instead of thirty.
    form.locator("select[name=period]").select_option("7d")
    with page.expect_navigation():
        form.locator("#dashboard-apply").click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?.*period=7d"))
    expect(form.locator("select[name=period]")).to_have_value("7d")
    expect(page.locator("#dashboard-problems")).to_have_count(0)

    # The headline numbers of the six tickets, against the one of the week before.
    expect(page.locator("[data-metric=created] .value")).to_have_text("6")
    expect(page.locator("[data-metric=created] .delta")).to_contain_text("+5")
    expect(page.locator("[data-metric=resolution_rate] .value")).to_have_text("66.7%")
    expect(page.locator("[data-metric=resolution_rate] .delta.delta-worse")).to_contain_text("33.3 pp")
    ttr = page.locator("[data-metric=ttr_median]")
    expect(ttr.locator(".value")).to_have_text(re.compile(r"^2\shours,\s30\sminutes$"))
    expect(ttr.locator(".delta.delta-better")).to_contain_text("▼")
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("#by_category tr[data-key=network] th a")).to_have_attribute(
        "href", "/desk/?queue=open&category=network")
    expect(page.locator("[data-metric=backlog-total]")).to_have_text("2")
    screenshot(page, "dashboard-7-days")

    # The CSV of the tiers, for the same seven days.
    link = page.locator("a#csv-by_tier")
    expect(link).to_have_attribute("href", re.compile(r"^/dashboard/export/by_tier\.csv\?period=7d$"))
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert re.fullmatch(r"tierdesk-by_tier-\d{8}-\d{8}\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["key", "label", "created"]
    by_tier = {row[0]: row for row in rows[1:]}
    assert by_tier["L1"][2] == "6" and by_tier["L2"][2] == "0"

    # The resolution rate opens the six tickets behind it, four of them counted as resolved.
    with page.expect_navigation():
        page.locator("[data-metric=resolution_rate] .value a").click()
    expect(page.locator("#drill-title")).to_have_text("Resolution rate")
    expect(page.locator("#drill-table tr[data-ticket-id]")).to_have_count(6)
    expect(page.locator("#drill-table tr[data-counted=yes]")).to_have_count(4)
    expect(page.locator("#drill-counted")).to_have_text("4")
    screenshot(page, "dashboard-drill-down")
    with page.expect_navigation():
        page.locator("#drill-table tr[data-counted=yes] td a").first.click()
    expect(page).to_have_url(re.compile(r"/desk/t/\d+/$"))
