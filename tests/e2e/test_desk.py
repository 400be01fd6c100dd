"""End-to-end tests of the agent workspace (/desk/) in headless Chromium.

They follow the pages' DOM contract: queue tabs `nav#queues a[data-queue]`,
rows `table#queue tr[data-ticket-id]`, action forms `form[data-action]`,
timeline `ol#timeline > li[data-kind]`, `.alert-stale` for a stale version,
`select#language` + `#language-submit`, `button#sign-out`, `#shortcuts`.
"""
import re

import pytest

from tests.e2e.helpers import action_form, ru, sign_in, submit_action, timeline_kinds
from tests.factories import make_ticket
from tickets import services
from tickets.models import Ticket
from tickets.policy import Actor
from tiers.models import Tier

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DIAGNOSIS = {
    "affected_item": "Laptop T14 (asset 4711)",
    "steps_before": "Installed the monthly updates, then docked the laptop",
    "findings": "The dock firmware update fails; the display link driver crashes",
}


def ticket_url(live_server, ticket) -> str:
    return f"{live_server.url}/desk/t/{ticket.pk}/"


def field(page, name: str):
    """A `[data-field=…]` value of the ticket page."""
    return page.locator(f"[data-field={name}]").first


def label(text: str) -> re.Pattern:
    """An English status label as a whole word, any case."""
    return re.compile(rf"\b{re.escape(text)}\b", re.IGNORECASE)


def queue_row(page, ticket):
    return page.locator(f'table#queue tr[data-ticket-id="{ticket.pk}"]')


# --- 1. L1 takes, diagnoses and escalates; L2 takes and resolves ------------------------------------


def test_l1_diagnoses_and_escalates_then_l2_resolves(new_page, live_server, alice, bob, screenshot):
    ticket = make_ticket(subject="Docking station shows no picture")
    url = ticket_url(live_server, ticket)

    # Alice (L1) finds the new ticket in her open queue and opens it.
    page = new_page()
    sign_in(page, live_server, "alice")
    row = queue_row(page, ticket)
    expect(row).to_have_count(1)
    expect(row.locator("a.ticket-link")).to_have_text(ticket.reference)
    expect(row.locator("[data-field=status]")).to_contain_text(label("new"))
    expect(row.locator("[data-field=tier]")).to_contain_text("L1")
    screenshot(page, "01-alice-queue")
    with page.expect_navigation():
        row.locator("a.ticket-link").click()
    expect(page).to_have_url(url)
    expect(page.locator("h1")).to_contain_text(ticket.reference)
    expect(field(page, "status")).to_contain_text(label("new"))
    expect(field(page, "tier")).to_contain_text("L1")
    screenshot(page, "02-alice-ticket-new")

    # She takes it: diagnosing, assigned to her.
    submit_action(page, "take")
    expect(page).to_have_url(url)
    expect(field(page, "status")).to_contain_text(label("diagnosing"))
    expect(field(page, "assignee")).to_contain_text("alice")
    expect(page.locator("form[data-action=take]")).to_have_count(0)

    # The diagnosis is saved and shown.
    submit_action(page, "diagnose", **DIAGNOSIS)
    expect(page).to_have_url(url)
    expect(field(page, "affected_item")).to_contain_text(DIAGNOSIS["affected_item"])
    screenshot(page, "03-alice-ticket-diagnosed")

    # Escalation needs a reason; the ticket moves to L2, unassigned, new.
    submit_action(page, "escalate", reason="Needs the dock firmware tools only L2 has")
    expect(page).to_have_url(url)
    expect(field(page, "tier")).to_contain_text("L2")
    expect(field(page, "status")).to_contain_text(label("new"))
    expect(page.locator("form[data-action]")).to_have_count(0)  # L1 cannot act on an L2 ticket
    screenshot(page, "04-alice-ticket-escalated")

    # Bob (L2) signs in in his own browser context and finds it among the unassigned tickets.
    page = new_page()
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/desk/?queue=unassigned")
    expect(page.locator("nav#queues a[data-queue=unassigned]")).to_be_visible()
    row = queue_row(page, ticket)
    expect(row).to_have_count(1)
    expect(row.locator("[data-field=tier]")).to_contain_text("L2")
    screenshot(page, "05-bob-unassigned-queue")
    with page.expect_navigation():
        row.locator("a.ticket-link").click()
    expect(page).to_have_url(url)

    # The diagnosis travelled with the ticket.
    expect(field(page, "affected_item")).to_contain_text(DIAGNOSIS["affected_item"])
    screenshot(page, "06-bob-ticket")

    submit_action(page, "take")
    expect(field(page, "status")).to_contain_text(label("diagnosing"))
    expect(field(page, "assignee")).to_contain_text("bob")

    # Resolve straight from diagnosing: a summary; the diagnosis fields come along (filled in from the
    # saved diagnosis; typed in again only if the form shows them empty).
    form = action_form(page, "resolve")
    for name, value in DIAGNOSIS.items():
        inputs = form.locator(f"[name={name}]")
        if inputs.count() and not inputs.first.input_value().strip():
            inputs.first.fill(value)
    submit_action(page, "resolve", summary="Rolled the dock firmware back to 1.0.4 and pinned the driver")
    expect(page).to_have_url(url)
    expect(field(page, "status")).to_contain_text(label("resolved"))
    expect(field(page, "affected_item")).to_contain_text(DIAGNOSIS["affected_item"])
    screenshot(page, "07-bob-ticket-resolved")

    kinds = [k for k in timeline_kinds(page) if k in {"taken", "diagnosed", "escalated", "resolved"}]
    assert kinds == ["taken", "diagnosed", "escalated", "taken", "resolved"], timeline_kinds(page)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.tier.code, ticket.assignee.username) == ("resolved", "L2", "bob")


# --- 2. Russian interface -------------------------------------------------------------------------


def test_russian_interface(page, live_server, alice, screenshot):
    ticket = make_ticket()
    sign_in(page, live_server, "alice")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_tab = page.locator("nav#queues a[data-queue=open]")
    sign_out = page.locator("button#sign-out")
    english_open = open_tab.inner_text().strip()
    english_sign_out = sign_out.inner_text().strip()
    assert english_sign_out == "Sign out"

    page.locator("select#language").select_option("ru")
    with page.expect_navigation():
        page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    screenshot(page, "queue-ru")

    # The labels come from the compiled catalogue (and are really translated).
    expected_sign_out = ru("Sign out")
    assert expected_sign_out != "Sign out", "the Russian catalogue has no translation of 'Sign out'"
    expect(sign_out).to_have_text(expected_sign_out)
    expected_open = ru(english_open)
    if expected_open == english_open:  # msgid with a context, or markup around the label
        expected_open = "Открытые"
    expect(open_tab).to_have_text(re.compile(rf"^\s*{re.escape(expected_open)}"))
    expect(open_tab).to_contain_text("Открытые")

    # The choice holds on the next page.
    page.goto(ticket_url(live_server, ticket))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("button#sign-out")).to_have_text(expected_sign_out)
    screenshot(page, "ticket-ru")


# --- 3. Stale version -----------------------------------------------------------------------------


def test_stale_version_keeps_what_the_agent_typed(page, live_server, alice, mona, screenshot, browser_problems):
    # The re-shown form answers 409 Conflict, which Chromium logs as a failed resource.
    browser_problems.allow(r"status of 409 \(Conflict\)")
    ticket = make_ticket()
    services.ticket_take(actor=Actor.of_user(alice), ticket_id=ticket.pk)
    url = ticket_url(live_server, ticket)

    sign_in(page, live_server, "alice")
    page.goto(url)
    form = action_form(page, "diagnose")
    for name, value in DIAGNOSIS.items():
        form.locator(f"[name={name}]").fill(value)

    # Meanwhile Mona writes an internal note: the ticket's version moves on.
    services.comment_add(actor=Actor.of_user(mona), ticket_id=ticket.pk, body="Call the user first.", internal=True)

    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    stale = page.locator(".alert-stale")
    expect(stale).to_be_visible()
    expect(stale).to_have_attribute("role", "alert")
    form = action_form(page, "diagnose")
    for name, value in DIAGNOSIS.items():
        expect(form.locator(f"[name={name}]")).to_have_value(value)
    screenshot(page, "stale")
    ticket.refresh_from_db()
    assert ticket.affected_item == "", "a stale form must not have been saved"

    # Submitting again (now with the current version) saves the diagnosis.
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    expect(page).to_have_url(url)
    expect(page.locator(".alert-stale")).to_have_count(0)
    expect(field(page, "affected_item")).to_contain_text(DIAGNOSIS["affected_item"])
    assert "diagnosed" in timeline_kinds(page)
    screenshot(page, "saved")
    ticket.refresh_from_db()
    assert ticket.findings == DIAGNOSIS["findings"]


# --- 4. Queue auto-refresh ------------------------------------------------------------------------


def test_queue_refreshes_itself(page, live_server, alice, screenshot):
    first = make_ticket(subject="Printer problem on floor 2")
    partial_requests = []
    page.on("request", lambda request: "partial=1" in request.url and partial_requests.append(request.url))
    navigations = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))

    sign_in(page, live_server, "alice")
    expect(queue_row(page, first)).to_have_count(1)
    page.evaluate("window.__samePage = 'yes'")
    search = page.locator("input#search")
    search.fill("Printer")  # typed, not submitted
    navigations.clear()

    second = make_ticket(subject="Printer problem on floor 5")
    expect(queue_row(page, second)).to_have_count(1, timeout=30_000)
    screenshot(page, "refreshed")

    assert page.evaluate("window.__samePage") == "yes", "the page was reloaded instead of refreshing the rows"
    assert navigations == [], f"the page navigated: {navigations}"
    assert partial_requests, "no ?partial=1 request was made"
    expect(search).to_have_value("Printer")
    expect(queue_row(page, first)).to_have_count(1)


# --- 5. L1 agent on an L2 ticket ------------------------------------------------------------------


def test_l1_agent_cannot_act_on_an_l2_ticket(page, live_server, alice, screenshot):
    ticket = make_ticket(tier=Tier.objects.get(code="L2"))
    url = ticket_url(live_server, ticket)
    sign_in(page, live_server, "alice")
    page.goto(url)
    expect(page.locator("h1")).to_contain_text(ticket.reference)
    expect(field(page, "tier")).to_contain_text("L2")
    expect(page.locator("form[data-action]")).to_have_count(0)
    screenshot(page, "no-actions")

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{url}take/",
        form={"version": str(ticket.version)},
        headers={"X-CSRFToken": csrf, "Referer": url},
        max_redirects=0,
    )
    assert response.status in (403, 404), f"forged take answered {response.status}"
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id) == ("new", None)


# --- 6. Keyboard shortcuts ------------------------------------------------------------------------


def test_question_mark_shows_the_shortcuts(page, live_server, alice, screenshot):
    make_ticket()
    sign_in(page, live_server, "alice")
    overlay = page.locator("#shortcuts")
    expect(overlay).to_be_hidden()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("?")
    expect(overlay).to_be_visible()
    screenshot(page, "overlay")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()
    # Keys that mean something in a CSS selector look up no shortcut and raise nothing (the page's problems
    # are checked after the test).
    for key in ('"', "\\", "]", "'"):
        page.keyboard.press(key)
    expect(page.locator("#queue")).to_be_visible()


# --- 7. Logging a call ----------------------------------------------------------------------------


def test_an_agent_logs_a_call_which_is_the_first_response(page, live_server, alice, screenshot):
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/desk/new/")
    started = page.locator("input#call-started-at")
    expect(started).not_to_have_value("")  # now, in the agent's time zone, ready to adjust
    page.fill("input#requester-email", "erin@example.com")
    page.fill("input#requester-name", "Erin")
    page.fill("input#subject", "Headset has no sound")
    page.fill("textarea#description", "Since this morning the headset is silent in calls.")
    page.fill("input#call-minutes", "6")
    page.fill("textarea#call-notes", "Checked the cable with the caller; it is plugged in.")
    screenshot(page, "call-form")
    page.locator("#call-form button[type=submit]").click()

    expect(page.locator("[data-field=call]")).to_contain_text("6 minutes")
    expect(page.locator("ol#timeline li.internal")).to_contain_text("Checked the cable with the caller")
    expect(page.locator("dl.deadlines")).to_contain_text("answered")
    screenshot(page, "call-ticket")
    ticket = Ticket.objects.get(subject="Headset has no sound")
    assert ticket.channel == "phone" and ticket.first_response_at == ticket.created_at
