"""End-to-end tests of the knowledge base in headless Chromium.

The desk's ticket page loads a "Solved before?" panel (`#suggestions`, filled from its `data-url`) whose
suggestions (`li.suggestion[data-kind][data-id]`) can be linked to the ticket (a plain form post) or pasted
into the reply box `#comment-body` (posted by knowledge.js with `X-Requested-With: fetch`, no reload).
The report form fills `#deflect` with public articles as the customer types the subject; "This solved it"
ends on `#deflected`. The public help pages live at /support/kb/ (`#kb-q`, `#kb-results`, `#article-solution`),
and a resolved ticket offers `#publish-form`, which makes an internal article of it.

All data is set up through `tickets.services` and `knowledge.services`.
"""
import re

import pytest

from knowledge import services as kb
from knowledge.models import Article, Deflection, SuggestionUse, Use, Visibility
from tests.e2e.helpers import sign_in, submit_action, timeline_kinds
from tests.factories import make_ticket
from tickets import services
from tickets.models import Comment, Ticket
from tickets.policy import Actor

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def ticket_url(live_server, ticket) -> str:
    return f"{live_server.url}/desk/t/{ticket.pk}/"


def resolved_ticket(actor: Actor, *, subject: str, description: str, summary: str, requester: str, **diagnosis):
    """A ticket opened by `requester`, taken and resolved by `actor` (all through the services)."""
    ticket = make_ticket(subject=subject, description=description, requester_email=f"{requester}@example.com",
                         requester_name=requester.capitalize())
    services.ticket_take(actor=actor, ticket_id=ticket.pk)
    return services.ticket_resolve(actor=actor, ticket_id=ticket.pk, summary=summary, **diagnosis)


def article(user, title: str, *, problem: str, solution: str, visibility=Visibility.INTERNAL, language="",
            tags=()) -> Article:
    return kb.article_save(user=user, data=kb.ArticleInput(title=title, problem=problem, solution=solution,
                                                            visibility=visibility, language=language,
                                                            tags=tuple(tags)))


# --- 1. Suggestions on the ticket page ------------------------------------------------------------------

OUTLOOK_FIX = "Removed the stale Outlook entries from Credential Manager; after one sign-in it no longer asks."
OUTLOOK_SOLUTION = (
    "1. Close Outlook.\n"
    "2. Open **Credential Manager** → Windows Credentials and remove every `MicrosoftOffice16` entry.\n"
    "3. Start Outlook and sign in once; tick *Remember me*."
)


def test_agent_links_and_pastes_suggestions_while_diagnosing(new_page, live_server, alice, screenshot):
    as_alice = Actor.of_user(alice)
    earlier = resolved_ticket(
        as_alice,
        subject="Outlook asks for the password again and again",
        description="Outlook keeps popping up the password prompt, even right after I type it.",
        summary=OUTLOOK_FIX,
        requester="erin",
        affected_item="Outlook 365 on laptop T14",
        steps_before="Changed the Windows password yesterday",
        findings="Old credentials cached in Credential Manager",
    )
    howto = article(alice, "Outlook keeps prompting for the password", tags=["outlook", "password"],
                    problem="Outlook asks for the password again and again after a password change.",
                    solution=OUTLOOK_SOLUTION)
    ticket = make_ticket(subject="Outlook keeps asking for my password",
                         description="Since this morning Outlook asks for the password every few minutes.",
                         requester_email="dana@example.com", requester_name="Dana")
    assert ticket.requester_id != earlier.requester_id and ticket.repeat_of_id is None
    url = ticket_url(live_server, ticket)

    page = new_page()
    sign_in(page, live_server, "alice")
    page.goto(url)
    submit_action(page, "take")
    expect(page).to_have_url(url)
    expect(page.locator("[data-field=status]").first).to_contain_text(re.compile(r"\bdiagnosing\b", re.I))
    expect(page.locator("#publish-form")).to_have_count(0)  # only a resolved ticket can be published
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id) == ("diagnosing", alice.pk)
    version = ticket.version

    # The panel loads after the page: the earlier fix and the article.
    panel = page.locator("#suggestions")
    earlier_item = panel.locator(f'li.suggestion[data-kind=ticket][data-id="{earlier.pk}"]')
    article_item = panel.locator(f'li.suggestion[data-kind=article][data-id="{howto.pk}"]')
    expect(earlier_item).to_contain_text(earlier.reference)
    expect(earlier_item).to_contain_text(OUTLOOK_FIX)
    expect(article_item).to_contain_text(howto.title)
    screenshot(page, "01-suggestions")

    # Link the earlier ticket: a plain form post that comes back to the ticket page. (Done before the paste:
    # the reload would drop what the reply box holds, like any other action form of the page.)
    link = earlier_item.locator("form.use-form:not([data-paste]) button[type=submit]")
    expect(link).to_have_text("Link to this ticket")
    with page.expect_navigation():
        link.click()
    expect(page).to_have_url(url)
    expect(page.locator("ul.messages")).to_contain_text("Linked to the ticket.")
    linked = SuggestionUse.objects.get(ticket=ticket)
    assert (linked.how, linked.solved_ticket_id, linked.article_id, linked.actor_id) == (
        Use.LINKED, earlier.pk, None, alice.pk)
    ticket.refresh_from_db()
    assert ticket.version == version, "using a suggestion must not change the ticket's version"
    expect(page.locator("#comment-form input[name=version]")).to_have_value(str(version))
    used = page.locator("ol#timeline > li[data-kind=suggestion_used]")
    expect(used).to_have_count(1)
    expect(used.first).to_contain_text(earlier.reference)
    expect(used.first).to_contain_text("linked to the ticket")

    # Paste the article: the script records the use and fills the reply box, without a reload.
    page.evaluate("window.__samePage = 'yes'")
    reply = page.locator("#comment-body")
    expect(reply).to_have_value("")
    paste = panel.locator(f'li.suggestion[data-kind=article][data-id="{howto.pk}"] form[data-paste] button')
    expect(paste).to_have_text("Paste the article into the reply")
    paste.click()
    expect(reply).to_have_value(OUTLOOK_SOLUTION)
    expect(paste).to_be_disabled()  # set once the use was recorded (the fetch answered)
    expect(article_item).to_have_class(re.compile(r"\bused\b"))
    assert page.evaluate("window.__samePage") == "yes", "pasting reloaded the page"
    screenshot(page, "02-pasted")
    pasted = SuggestionUse.objects.exclude(pk=linked.pk).get(ticket=ticket)
    assert (pasted.how, pasted.article_id, pasted.solved_ticket_id, pasted.actor_id) == (
        Use.PASTED, howto.pk, None, alice.pk)
    assert SuggestionUse.objects.filter(ticket=ticket).count() == 2
    ticket.refresh_from_db()
    assert ticket.version == version, "using a suggestion must not change the ticket's version"

    # Sending the reply from this page (its form still carries the version read before the paste) works:
    # no stale-version refusal, and the comment holds the pasted text.
    with page.expect_navigation():
        page.locator("#comment-form button[type=submit]").click()
    expect(page).to_have_url(url)
    expect(page.locator(".alert-stale")).to_have_count(0)
    expect(page.locator(".alert-error")).to_have_count(0)
    comment = page.locator("ol#timeline > li[data-kind=commented]")
    expect(comment).to_have_count(1)
    expect(comment).to_contain_text("MicrosoftOffice16")
    used = page.locator("ol#timeline > li[data-kind=suggestion_used]")
    expect(used).to_have_count(2)
    expect(used.nth(0)).to_contain_text(earlier.reference)
    expect(used.nth(0)).to_contain_text("linked to the ticket")
    expect(used.nth(1)).to_contain_text(howto.title)
    expect(used.nth(1)).to_contain_text("pasted into a reply")
    kinds = timeline_kinds(page)
    assert kinds[-3:] == ["suggestion_used", "suggestion_used", "commented"], kinds
    screenshot(page, "03-replied")

    saved = Comment.objects.get(ticket=ticket)
    # A submitted textarea sends its line breaks as CR LF (HTML form submission).
    assert (saved.body.replace("\r\n", "\n"), saved.internal, saved.author_id) == (OUTLOOK_SOLUTION, False, alice.pk)
    ticket.refresh_from_db()
    assert ticket.status == "diagnosing" and ticket.version > version  # the reply itself is a change
    assert howto.uses.count() == 1


def test_a_typed_reply_survives_linking_a_suggestion(new_page, live_server, alice, screenshot):
    """Linking reloads the ticket page; what the agent had typed in the reply box comes back, and is gone
    once the reply is sent."""
    as_alice = Actor.of_user(alice)
    earlier = resolved_ticket(as_alice, subject="Outlook asks for the password again and again",
                              description="The password prompt keeps coming back.", summary=OUTLOOK_FIX,
                              requester="erin", affected_item="Outlook", steps_before="-", findings="Old credentials")
    ticket = make_ticket(subject="Outlook keeps asking for my password", description="Every few minutes.",
                         requester_email="dana@example.com", requester_name="Dana")
    url = ticket_url(live_server, ticket)
    page = new_page()
    sign_in(page, live_server, "alice")
    page.goto(url)
    submit_action(page, "take")
    typed = "Checking the cached credentials now."
    page.locator("#comment-body").fill(typed)
    link = page.locator(f'#suggestions li.suggestion[data-kind=ticket][data-id="{earlier.pk}"] '
                        "form.use-form:not([data-paste]) button")
    with page.expect_navigation():
        link.click()
    expect(page.locator("ul.messages")).to_contain_text("Linked to the ticket.")
    expect(page.locator("#comment-body")).to_have_value(typed)
    with page.expect_navigation():
        page.locator("#comment-form button[type=submit]").click()
    expect(page.locator("ol#timeline > li[data-kind=commented]")).to_contain_text(typed)
    page.reload()
    expect(page.locator("#comment-body")).to_have_value("")
    assert Comment.objects.get(ticket=ticket).body == typed


# --- 2. Deflection on the report form ------------------------------------------------------------------

VPN_TITLE = "VPN disconnects every few minutes"


def test_customer_is_deflected_by_a_public_article(new_page, live_server, alice, screenshot):
    vpn = article(alice, VPN_TITLE, visibility=Visibility.PUBLIC, tags=["vpn"],
                  problem="The VPN client drops the connection every few minutes, mostly on Wi-Fi.",
                  solution="Open the VPN client settings and switch the protocol from **UDP** to **TCP**.")
    typed = "my vpn keeps disconnecting"

    page = new_page()
    page.goto(f"{live_server.url}/support/")
    deflect = page.locator("#deflect")
    expect(deflect).to_be_empty()
    page.fill("#id_name", "Dana Customer")
    page.fill("#id_email", "dana@example.com")
    page.locator("#id_subject").press_sequentially(typed)

    item = deflect.locator(f'li.deflect-item[data-article-id="{vpn.pk}"]')
    expect(item.locator("summary")).to_have_text(VPN_TITLE)
    # Settled on the whole subject (an answer for a shorter prefix may have come first).
    expect(item.locator("input[name=q]")).to_have_value(typed)
    screenshot(page, "01-offered")

    item.locator("summary").click()
    expect(item.locator("details")).to_have_attribute("open", "")
    expect(item).to_contain_text("switch the protocol from **UDP** to **TCP**")
    solved = item.get_by_role("button", name="This solved it — no need to send")
    expect(solved).to_be_visible()
    # The button sends the article's own form, not the report form #deflect sits in.
    assert solved.evaluate("b => b.form && new URL(b.form.action).pathname") == f"/support/kb/{vpn.pk}/solved/"
    with page.expect_navigation():
        solved.click()
    expect(page).to_have_url(re.compile(rf"/support/kb/{vpn.pk}/solved/$"))
    expect(page.locator("#deflected")).to_be_visible()
    expect(page.locator("#deflected")).to_contain_text("no ticket was opened")
    screenshot(page, "02-deflected")

    deflection = Deflection.objects.get()
    assert (deflection.article_id, deflection.query) == (vpn.pk, typed)
    assert not Ticket.objects.exists()


def test_customer_not_helped_sends_the_report(new_page, live_server, alice, screenshot):
    vpn = article(alice, VPN_TITLE, visibility=Visibility.PUBLIC,
                  problem="The VPN client drops the connection every few minutes.",
                  solution="Switch the protocol from UDP to TCP.")
    typed = "vpn disconnects in the office"

    page = new_page()
    page.goto(f"{live_server.url}/support/")
    page.fill("#id_name", "Dana Customer")
    page.fill("#id_email", "dana@example.com")
    page.fill("#id_description", "Already on TCP; it still drops every few minutes, only in building B.")
    subject = page.locator("#id_subject")
    subject.press_sequentially(typed)
    item = page.locator(f'#deflect li.deflect-item[data-article-id="{vpn.pk}"]')
    expect(item.locator("input[name=q]")).to_have_value(typed)

    # Enter in the subject sends the report (its own "Send"), not an article's "This solved it".
    with page.expect_navigation():
        subject.press("Enter")
    expect(page.locator("#reference")).to_have_text(re.compile(r"^HD-\d{6}$"))
    screenshot(page, "received")
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.requester.email) == (typed, "dana@example.com")
    assert not Deflection.objects.exists()


# --- 3. The public help pages ----------------------------------------------------------------------------

JAM_TITLE = "Printer reports a paper jam although the tray is empty"
JAM_SOLUTION = (
    "Most often a torn scrap is left behind:\n\n"
    "- Open **tray 2** and pull it out completely\n"
    "- Remove the scrap behind the rollers\n"
    "- Turn the printer off and on\n\n"
    "Still jammed? Call the service desk on `ext. 4711`."
)


def test_public_help_pages(new_page, live_server, alice, screenshot):
    jam = article(alice, JAM_TITLE, visibility=Visibility.PUBLIC, tags=["printer"],
                  problem="The display says *Paper jam in tray 2*, but there is no paper stuck. <b>not markup</b>",
                  solution=JAM_SOLUTION)
    wifi = article(alice, "Guest Wi-Fi password", visibility=Visibility.PUBLIC, language="en",
                   problem="Visitors need the guest Wi-Fi password.",
                   solution="The password of the day is shown at the reception desk.")
    internal = article(alice, "Reset a user's VPN token on the RADIUS server", visibility=Visibility.INTERNAL,
                       problem="A user's VPN token is out of sync.", solution="Run `radtoken reset <user>`.")

    page = new_page()
    page.goto(f"{live_server.url}/support/kb/")
    results = page.locator("#kb-results")
    expect(results.get_by_role("link", name=JAM_TITLE)).to_have_count(1)
    expect(results.get_by_role("link", name=wifi.title)).to_have_count(1)
    expect(results).not_to_contain_text(internal.title)
    screenshot(page, "01-index")
    # Nor is the internal article reachable by its address.
    assert page.request.get(f"{live_server.url}/support/kb/{internal.pk}/").status == 404

    # Search from the box.
    page.fill("#kb-q", "paper jam")
    with page.expect_navigation():
        page.locator("#kb-q").press("Enter")
    expect(page).to_have_url(re.compile(r"/support/kb/\?q=paper\+jam$"))
    expect(page.locator("#kb-q")).to_have_value("paper jam")
    hit = results.get_by_role("link", name=JAM_TITLE)
    expect(hit).to_have_count(1)
    expect(results).not_to_contain_text(wifi.title)
    expect(results).not_to_contain_text(internal.title)
    screenshot(page, "02-search")

    # The article: Markdown rendered, raw HTML shown as text.
    with page.expect_navigation():
        hit.click()
    expect(page).to_have_url(re.compile(rf"/support/kb/{jam.pk}/\?q=paper"))
    expect(page.locator("h1")).to_have_text(JAM_TITLE)
    solution = page.locator("#article-solution")
    expect(solution.locator("strong")).to_have_text("tray 2")
    expect(solution.locator("ul > li")).to_have_count(3)
    expect(solution.locator("ul > li").nth(1)).to_have_text("Remove the scrap behind the rollers")
    expect(solution.locator("code")).to_have_text("ext. 4711")
    expect(solution).not_to_contain_text("**")
    problem = page.locator("#article-problem")
    expect(problem.locator("em")).to_have_text("Paper jam in tray 2")
    expect(problem.locator("b")).to_have_count(0)
    expect(problem).to_contain_text("<b>not markup</b>")
    expect(page.locator(".solved-form input[name=q]")).to_have_value("paper jam")
    screenshot(page, "03-article")

    # In Russian: the language-neutral article stays, the English-only one is not offered.
    page.goto(f"{live_server.url}/support/kb/")
    page.locator("select#language").select_option("ru")
    with page.expect_navigation():
        page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page).to_have_url(re.compile(r"/support/kb/$"))
    expect(results.get_by_role("link", name=JAM_TITLE)).to_have_count(1)
    expect(results).not_to_contain_text(wifi.title)
    expect(results).not_to_contain_text(internal.title)
    screenshot(page, "04-index-ru")
    assert page.request.get(f"{live_server.url}/support/kb/{wifi.pk}/").status == 404


# --- 4. Publishing a resolved ticket ----------------------------------------------------------------------


def test_agent_publishes_a_resolved_ticket_in_one_click(new_page, live_server, alice, screenshot):
    summary = "Rolled the dock firmware back to 1.0.4 and pinned the DisplayLink driver."
    ticket = resolved_ticket(
        Actor.of_user(alice),
        subject="Docking station shows no picture after the update",
        description="Both monitors on the dock stay black since the monthly updates.",
        summary=summary,
        requester="dana",
        affected_item="Dock WD19 (asset 4711)",
        steps_before="Installed the monthly updates, then docked the laptop",
        findings="The dock firmware update failed",
    )
    url = ticket_url(live_server, ticket)
    assert not Article.objects.exists()

    page = new_page()
    sign_in(page, live_server, "alice")
    page.goto(url)
    publish = page.locator("#publish-form button[type=submit]")
    expect(publish).to_have_text("Publish as a knowledge base article")
    expect(page.locator("#suggestions")).to_have_count(0)  # nothing to suggest for a resolved ticket
    screenshot(page, "01-resolved-ticket")
    with page.expect_navigation():
        publish.click()
    page.wait_for_url(re.compile(r"/desk/kb/\d+/$"))

    created = Article.objects.get()
    assert page.url == f"{live_server.url}/desk/kb/{created.pk}/"
    assert (created.source_ticket_id, created.title, created.solution) == (ticket.pk, ticket.subject, summary)
    assert (created.visibility, created.author_id, created.version) == (Visibility.INTERNAL, alice.pk, 1)
    assert "The dock firmware update failed" in created.problem
    assert created.revisions.count() == 1
    expect(page.locator("h1")).to_have_text(ticket.subject)
    expect(page.locator("#article-solution")).to_contain_text(summary)
    expect(page.locator("#article-problem")).to_contain_text("Dock WD19 (asset 4711)")
    expect(page.locator(".kb-article").get_by_role("link", name=ticket.reference)).to_have_attribute(
        "href", f"/desk/t/{ticket.pk}/")
    expect(page.locator("ul.messages")).to_contain_text("Article created from the ticket")
    screenshot(page, "02-article")

    # A second click finds the same article instead of writing another.
    page.goto(url)
    with page.expect_navigation():
        page.locator("#publish-form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/desk/kb/{created.pk}/")
    expect(page.locator("ul.messages")).to_contain_text("This ticket was published before.")
    assert Article.objects.count() == 1
