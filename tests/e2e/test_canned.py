"""End-to-end test of canned replies in headless Chromium.

The ticket page's reply box (`#comment-body`) has a picker beside it (`#canned`): Alt+R (or `#canned-open`) opens
a search field (`#canned-search`) over the replies the agent sees, each already filled in for the ticket by
`/desk/t/<id>/canned/`; typing filters (`#canned-list li[role=option]`), the arrow keys move the highlight
(`aria-selected`), Enter inserts the highlighted reply at the cursor. Data is set up through the services.
"""
import pytest

from canned import services as canned
from tests.e2e.helpers import sign_in
from tests.factories import make_ticket
from tickets.models import Comment
from tickets.portal import tokens
from tiers.models import Tier

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# A customer whose name looks like markup and placeholders: it must reach the reply box as the same text.
HOSTILE_NAME = "Dana {{ ticket.reference }} <b>{% debug %}</b>"


def test_agent_inserts_a_canned_reply_with_the_shortcut_and_sends_it(new_page, live_server, alice, mona, screenshot):
    ticket = make_ticket(subject="Printer on floor 3 jams", requester_email="dana@example.com",
                         requester_name=HOSTILE_NAME)
    canned.canned_reply_save(user=alice, data=canned.ReplyInput(
        title="Printer: greeting", body="Hello {{ requester.name }}, we are on {{ ticket.reference }}."))
    canned.canned_reply_save(user=alice, data=canned.ReplyInput(
        title="Printer: toner", body="Please replace the toner. Follow it here: {{ ticket.tracking_url }}"))
    canned.canned_reply_save(user=mona, data=canned.ReplyInput(
        title="Password reset", body="Reset it at the portal: {{ portal.url }}", tier=Tier.objects.get(code="L1")))
    canned.canned_reply_save(user=mona, data=canned.ReplyInput(title="Only for L2", body="L2 text",
                                                               tier=Tier.objects.get(code="L2")))
    toner_text = ("Please replace the toner. Follow it here: "
                  f"http://127.0.0.1:8000/support/t/{tokens.tracking_token(ticket)}/")

    page = new_page()
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/desk/t/{ticket.pk}/")
    expect(page.locator("#canned-open")).to_contain_text("Alt+R")
    reply = page.locator("#comment-body")
    reply.click()
    page.keyboard.type("Hi,\n")

    # The shortcut works while typing in the reply box, and opens the list with the search field focused.
    page.keyboard.press("Alt+r")
    search = page.locator("#canned-search")
    expect(search).to_be_focused()
    options = page.locator("#canned-list li[role=option]")
    expect(options).to_have_count(3)  # Alice's two and L1's; not L2's
    expect(page.locator("#canned-list")).not_to_contain_text("Only for L2")

    page.keyboard.type("printer")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(1)).to_contain_text("Printer: toner")
    page.keyboard.press("ArrowUp")
    page.keyboard.type(" greet")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(f"Hello {HOSTILE_NAME}")  # shown as text, not as markup
    screenshot(page, "01-filtered")
    page.keyboard.press("Enter")

    expect(page.locator("#canned-panel")).to_be_hidden()
    expect(reply).to_be_focused()
    greeting = f"Hello {HOSTILE_NAME}, we are on {ticket.reference}."
    expect(reply).to_have_value(f"Hi,\n{greeting}")

    # Again, through the button this time, choosing with the arrow key: inserted where the cursor is.
    page.keyboard.type("\n")
    page.locator("#canned-open").click()
    expect(search).to_be_focused()
    page.keyboard.type("toner")
    expect(options).to_have_count(1)
    page.keyboard.press("Enter")
    expect(reply).to_have_value(f"Hi,\n{greeting}\n{toner_text}")

    # Esc closes the list without inserting anything.
    page.keyboard.press("Alt+r")
    expect(search).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#canned-panel")).to_be_hidden()
    expect(reply).to_have_value(f"Hi,\n{greeting}\n{toner_text}")
    screenshot(page, "02-inserted")

    with page.expect_navigation():
        page.locator("#comment-form button[type=submit]").click()
    comment = page.locator("ol#timeline > li[data-kind=commented]")
    expect(comment).to_have_count(1)
    expect(comment).to_contain_text(greeting)
    expect(comment).to_contain_text(toner_text)
    expect(page.locator("ol#timeline b")).to_have_count(0)  # the customer's "<b>" stayed text
    screenshot(page, "03-sent")
    saved = Comment.objects.get(ticket=ticket)
    assert saved.body.replace("\r\n", "\n") == f"Hi,\n{greeting}\n{toner_text}"
    assert (saved.internal, saved.author_id) == (False, alice.pk)
