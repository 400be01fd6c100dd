"""End to end in Chromium: a customer reports, an agent replies in the desk, the customer confirms."""
import re

import pytest

from tests.e2e.helpers import sign_in, submit_action
from tickets.models import Ticket

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_customer_reports_agent_replies_customer_confirms(new_page, live_server, alice, screenshot):
    customer = new_page()
    customer.goto(f"{live_server.url}/support/")
    customer.fill("#id_name", "Dana Customer")
    customer.fill("#id_email", "dana@example.com")
    customer.fill("#id_subject", "Printer on floor 3 jams")
    customer.fill("#id_description", "Every page jams in tray 2 since this morning.")
    screenshot(customer, "report-form")
    with customer.expect_navigation():
        customer.locator("#report-form button[type=submit]").click()
    expect(customer.locator("#reference")).to_have_text(re.compile(r"^HD-\d{6}$"))
    tracking = customer.locator("#tracking-link").get_attribute("href")
    screenshot(customer, "received")
    ticket = Ticket.objects.get()

    agent = new_page()
    sign_in(agent, live_server, "alice")
    agent.goto(f"{live_server.url}/desk/t/{ticket.pk}/")
    submit_action(agent, "take")
    submit_action(agent, "comment", body="Please pull out tray 2 and remove the torn sheet.")
    submit_action(agent, "diagnose", affected_item="Printer floor 3", steps_before="Printing",
                  findings="Torn sheet in tray 2")
    submit_action(agent, "resolve", summary="Removed a torn sheet from tray 2")

    customer.goto(f"{live_server.url}{tracking}")
    expect(customer.locator("#thread")).to_contain_text("Please pull out tray 2")
    expect(customer.locator("#confirm-form")).to_be_visible()
    screenshot(customer, "resolved-track-page")
    customer.locator("#confirm-form input[name=rating][value='5']").check()
    customer.fill("#confirm-comment", "Works, thanks!")
    with customer.expect_navigation():
        customer.locator("#confirm-form button[type=submit]").click()
    expect(customer.locator("#plain-status")).to_contain_text("Closed")
    screenshot(customer, "closed")

    ticket.refresh_from_db()
    assert (ticket.status, ticket.csat_rating, ticket.csat_comment) == ("closed", 5, "Works, thanks!")
