"""Presence in a real browser: two agents on the same ticket page see each other, typing included."""
import pytest

from tests.e2e.helpers import sign_in

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The other page beats every 5 s and typing stops counting 4 s after the last key: a change shows within ~9 s.
SEEN_WITHIN_MS = 12_000


def test_the_second_agent_sees_the_first_typing_then_viewing(new_page, live_server, alice, bob, ticket, screenshot):
    url = f"{live_server.url}/desk/t/{ticket.pk}/"
    a = new_page()
    sign_in(a, live_server, "alice")
    a.goto(url)
    b = new_page()
    sign_in(b, live_server, "bob")
    b.goto(url)

    # Alice types in the reply box for a while (longer than one beat); Bob's page says so.
    a.locator("#comment-body").press_sequentially("Checking the fuser unit now", delay=220)
    b_presence = b.locator("#presence")
    expect(b_presence).to_be_visible(timeout=SEEN_WITHIN_MS)
    expect(b_presence.locator("li")).to_have_text(["alice is typing a reply…"], timeout=SEEN_WITHIN_MS)
    screenshot(b, "alice-typing")

    # Alice stops typing (no key for a few seconds): Bob sees her only viewing.
    expect(b_presence.locator("li")).to_have_text(["alice is viewing"], timeout=SEEN_WITHIN_MS)

    # Each page names the other agent only, never its own user.
    expect(a.locator("#presence li")).to_have_text(["bob is viewing"], timeout=SEEN_WITHIN_MS)
    assert "bob" not in b_presence.inner_text()
    assert "alice" not in a.locator("#presence").inner_text()
    # Names are text, never markup.
    assert b_presence.locator("li").evaluate("li => li.children.length") == 0
