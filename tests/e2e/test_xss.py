"""Stored XSS, proven in Chromium: the payloads of `tests.security.xss` go in through every field a customer or an
integration controls — the portal's report form and tracking page, the REST API, inbound e-mail — and through the
agent-written knowledge base, whose Markdown also renders customer text (an article published from a ticket).
Then every desk, portal, knowledge, dashboard and admin page that shows them is opened.

On every page the test asserts that no payload did anything: no dialog, no console line naming a marker, no
``window.__xss``, no request to another host, and no markup the data could have made (an ``on…`` attribute, a
``javascript:`` link, an inline or foreign script, a frame, an unknown element…) — and that each field shows its
payloads literally, as text (``innerText``; form fields by their value).

The pages are opened with the Content-Security-Policy switched off: CSP is the second wall, and these tests prove
the first one — escaping — holds on its own. A payload that got through would run, and its marker would name it.
`test_every_payload_runs_where_a_page_would_render_it_raw` proves that claim for each payload: put into HTML
unescaped, in the place it is made for, it runs.
"""
import contextlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.core import mail
from rest_framework.authtoken.models import Token

from inbound.models import InboundMessage
from inbound.services import receive
from knowledge import services as knowledge
from knowledge.models import Article, Deflection, Visibility
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS
from tests.e2e.helpers import sign_in
from tests.factories import CategoryFactory, make_ticket, staff_user
from tests.security import xss
from tickets import services
from tickets.models import Attachment, Requester, Ticket
from tickets.policy import Actor
from tickets.portal import signin, tokens
from tickets.workflow import Status
from webhooks.models import Webhook

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")


def live(test):
    """A browser test against the live server, on a database whose writes commit (the server reads them)."""
    return pytest.mark.browser(pytest.mark.django_db(transaction=True, serialized_rollback=True)(test))


# Subjects, names and titles take 200 characters: the corpus goes through them in groups that fit.
FIELD_MAX = 200
GROUPS = xss.batches(FIELD_MAX)
EVERYTHING = xss.every_payload()
ALL_TEXTS = [payload.text for payload in xss.CORPUS]
# Workflow reasons take 2000 characters: the escalation carries one half of the corpus, the wait the other.
HALF = len(xss.CORPUS) // 2
HALVES = (xss.CORPUS[:HALF], xss.CORPUS[HALF:])
# A category an administrator named with payloads: the report form, the desk and the dashboard's breakdowns show it.
CATEGORY_NAME = xss.joined(xss.BY_MARKER[marker] for marker in ("XSS-04", "XSS-26", "XSS-47"))
CATEGORY_SLUG = "xss-area"
PORTAL_MAX_FILES = 5
# Markdown turns most payloads into other text (links, emphasis, entities); these it must show as they are.
AS_MARKDOWN_TEXT = [xss.BY_MARKER[marker].text for marker in ("XSS-01", "XSS-04", "XSS-06", "XSS-26", "XSS-33")]
# A public address, so the target check needs no name lookup; payloads without spaces, as URLs have none.
WEBHOOK_URL = ("https://93.184.216.34/hooks/\"><script>alert('XSS-26')</script>"
               "?next=</textarea><script>alert('XSS-33')</script>&q=<svg/onload=console.log('XSS-07')>")
# How long a page's script may take to load its panel (the suggestions, the caller list) before that counts as broken.
READY_MS = 5_000
# A failure lists this many findings (a hole in a shared template shows up on every page).
LISTED = 150

# Runs in the page once it has loaded. Two animation frames later every handler that parsing would have queued (error
# events, toggle, SVG animations, autofocus) has run. Then it lists the markup no page of ours has but an unescaped
# payload would make, and reads the texts and form values the test expects to find.
AUDIT = r"""async ({texts, values}) => {
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const here = (url) => { try { return new URL(url, location.href); } catch (e) { return null; } };
  // Browsers ignore control characters and spaces in a URL's scheme ("java\tscript:").
  const runs = (url) => /^(javascript|vbscript|livescript|data):/i.test((url || "").replace(/[\u0000-\u0020]/g, ""));
  const elsewhere = (url) => {
    const u = here(url);
    return !!u && /^https?:$/.test(u.protocol) && u.origin !== location.origin;
  };
  const NEVER = ["iframe", "frame", "frameset", "object", "embed", "applet", "base", "math", "noscript", "audio",
                 "video", "marquee", "animate", "set", "animatetransform", "animatemotion", "foreignobject"];
  const URLS = ["href", "xlink:href", "src", "action", "formaction", "data", "poster", "background"];
  const injected = [];
  const report = (el, what) => injected.push(`${el.localName}${el.id ? "#" + el.id : ""} ${what}`);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName;
    if (el instanceof HTMLUnknownElement || NEVER.includes(tag)) report(el, "element");
    if (tag === "meta" && el.hasAttribute("http-equiv")) report(el, "http-equiv");
    if (tag === "style" && !el.closest("head")) report(el, "in the body");
    if (tag === "link" && (!el.closest("head") || elsewhere(el.getAttribute("href")))) {
      report(el, `href=${el.getAttribute("href")}`);
    }
    if (tag === "script") {
      // Ours are files of this site (or JSON data); anything else was written into the page.
      const src = el.getAttribute("src");
      const ours = src ? !runs(src) && here(src)?.origin === location.origin : el.type === "application/json";
      if (!ours) report(el, src || el.textContent.slice(0, 80));
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const icon = tag === "link" && attr.value === "data:,";  // base.html's "no favicon"
      if (name.startsWith("on") || name === "srcdoc") {
        report(el, `${name}=${attr.value}`);
      } else if (URLS.includes(name) && ((runs(attr.value) && !icon) || (name !== "href" && elsewhere(attr.value)))) {
        report(el, `${name}=${attr.value}`);
      } else if (name === "style" && /url\(|expression|javascript:/i.test(attr.value)) {
        report(el, `style=${attr.value}`);
      }
    }
  }
  const read = (selector, get) => {
    const found = [...document.querySelectorAll(selector)];
    return found.length ? found.map(get).join("\n") : null;
  };
  return {
    injected,
    xss: typeof window.__xss === "undefined" ? null : String(window.__xss),
    title: document.title,
    texts: Object.fromEntries(texts.map((s) => [s, read(s, (el) => el.innerText)])),
    values: Object.fromEntries(values.map((s) => [s, read(s, (el) => el.value)])),
  };
}"""


class Sweep:
    """What the payloads did in the pages of one test, and which expected texts a page did not show as text.

    Findings are collected over the whole test and reported together, each naming the page and, through its
    marker, the payload.
    """

    def __init__(self, *, browser, live_server, problems):
        self.origin = live_server.url
        self.problems = problems  # the e2e checks for JS errors (tests/e2e/conftest.py)
        self.findings: list[str] = []
        self.pages = 0
        self.contexts = []
        self._browser, self._live_server = browser, live_server

    def open_page(self, username: str | None = None):
        """A page of its own browser context with the CSP switched off, watched by the sweep and by the e2e checks,
        signed in as `username` when given."""
        context = self._browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                            base_url=self.origin, bypass_csp=True)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.problems.watch(page)
        page.on("dialog", lambda dialog: self._dialog(page, dialog))
        page.on("console", lambda message: self._console(page, message))
        page.on("request", lambda request: self._request(page, request))
        if username:
            sign_in(page, self._live_server, username)
        return page

    def add(self, where: str, problem: str) -> None:
        named = ", ".join(xss.describe(marker) for marker in sorted(xss.markers_in(problem)))
        self.findings.append(f"{where}: {problem[:300]}" + (f"\n      payload {named}" if named else ""))

    def _where(self, page) -> str:
        parts = urlsplit(page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _dialog(self, page, dialog) -> None:
        self.add(self._where(page), f"{dialog.type} dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, page, message) -> None:
        if xss.markers_in(message.text):
            self.add(self._where(page), f"console {message.type}: {message.text}")

    def _request(self, page, request) -> None:
        if not request.url.startswith((self.origin, "data:", "about:", "blob:")):
            self.add(self._where(page), f"request to another host: {request.url}")

    def visit(self, page, path: str, **expected) -> dict:
        """Open `path` and check it (see `check`)."""
        response = page.goto(path)
        if response is None or not response.ok:
            self.add(path, f"answered {response.status if response else 'nothing'}")
        return self.check(page, **expected)

    def check(self, page, *, shows=None, holds=None, title: str | None = None, ready: str | None = None) -> dict:
        """Check the page as it is now: nothing ran or was injected; each text of `shows` (selector → texts) is in
        the matched elements' text, each of `holds` in their form values, `title` in the document's title."""
        where = self._where(page)
        if ready:
            try:
                page.locator(ready).first.wait_for(state="attached", timeout=READY_MS)
            except sync_api.TimeoutError:
                self.add(where, f"{ready} never appeared (the page's own script did not finish)")
        shows, holds = shows or {}, holds or {}
        found = page.evaluate(AUDIT, {"texts": list(shows), "values": list(holds)})
        self.pages += 1
        for item in found["injected"]:
            self.add(where, f"markup made by the data: {item}")
        if found["xss"] is not None:
            self.add(where, f"window.__xss = {found['xss']!r}")
        for kind, wanted, got in (("text", shows, found["texts"]), ("value", holds, found["values"])):
            for selector, texts in wanted.items():
                if got[selector] is None:
                    self.add(where, f"nothing matches {selector}")
                    continue
                shown = xss.normalised(got[selector])
                for text in texts:
                    if xss.normalised(text) not in shown:
                        self.add(where, f"the {kind} of {selector} lacks {text!r}")
        if title is not None and xss.normalised(title) not in xss.normalised(found["title"]):
            self.add(where, f"the title lacks {title!r}")
        return found

    def assert_clean(self) -> None:
        assert self.pages, "no page was checked"
        listing = "\n".join(f"  - {finding}" for finding in self.findings[:LISTED])
        if len(self.findings) > LISTED:
            listing += f"\n  … and {len(self.findings) - LISTED} more"
        assert not self.findings, f"{len(self.findings)} problem(s) in {self.pages} pages:\n{listing}"


@pytest.fixture
def sweep(request, browser, live_server, browser_problems, screenshot):
    """A `Sweep` for the test; its pages are screenshotted when the test fails, then closed."""
    # The admin's pages link no icon: the browser asks for /favicon.ico, which the app does not serve.
    browser_problems.allow(r"/favicon\.ico")
    found = Sweep(browser=browser, live_server=live_server, problems=browser_problems)
    yield found
    report = getattr(request.node, "_report_call", None)
    for n, context in enumerate(found.contexts, start=1):
        if report is not None and report.failed:
            for m, page in enumerate(context.pages, start=1):
                with contextlib.suppress(Exception):  # a screenshot must not hide the real failure
                    screenshot(page, f"failure-{n}-{m}")
        context.close()


@dataclass
class Sent:
    """A ticket that carries payloads, and what its pages must show as text."""

    ticket: Ticket
    subject: str
    name: str
    description: list[str] = field(default_factory=lambda: list(ALL_TEXTS))
    thread: list[str] = field(default_factory=list)  # public replies: the tracking page and the desk timeline
    timeline: list[str] = field(default_factory=list)  # notes and reasons: the desk timeline only
    files: list[str] = field(default_factory=list)
    desk: dict[str, list[str]] = field(default_factory=dict)  # more selector → texts of the desk's ticket page


def lines(text: str) -> str:
    """A text typed into a form: browsers send its line breaks as CR LF."""
    return text.replace("\r\n", "\n")


def upload(name: str) -> dict:
    return {"name": name, "mimeType": "text/plain", "buffer": b"printer log\n"}


def stored_files(ticket: Ticket, group) -> list[str]:
    """The names the uploads were stored under, each checked to still carry its payload's marker."""
    names = sorted(Attachment.objects.filter(ticket=ticket).values_list("original_name", flat=True))
    markers = sorted(marker for name in names for marker in xss.markers_in(name))
    assert markers == sorted(payload.marker for payload in group), names
    return names


def title_of(article_id) -> str:
    return Article.objects.get(pk=article_id).title


def agent(ticket_id: int, user) -> None:
    """An agent takes the ticket if it is new and resolves it, the service way."""
    actor = Actor.of_user(user)
    ticket = Ticket.objects.get(pk=ticket_id)
    if ticket.status == Status.NEW:
        services.ticket_take(actor=actor, ticket_id=ticket_id)
    services.ticket_resolve(actor=actor, ticket_id=ticket_id, summary="Cleared the print queue",
                            affected_item="Printer", steps_before="Printed", findings="Stuck job")


# --- the pages every channel's tickets appear on -------------------------------------------------------------


def check_desk(sweep: Sweep, page, sent: list[Sent]) -> None:
    """The queue (also as the script refreshes it) and each ticket page, as an agent."""
    shows = {"#queue-rows": [s.subject for s in sent] + [s.name for s in sent]}
    sweep.visit(page, "/desk/?queue=all", shows=shows)
    with page.expect_response(lambda response: "partial=1" in response.url):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    sweep.check(page, shows=shows)
    sweep.visit(page, f"/desk/?queue=all&q={quote(sent[0].subject)}", holds={"#search": [sent[0].subject]})
    for s in sent:
        shows = {"h1": [s.subject], ".description": s.description, "[data-field=requester]": [s.name],
                 "#timeline": s.thread + s.timeline + s.files, **s.desk}
        sweep.visit(page, f"/desk/t/{s.ticket.pk}/", shows=shows, title=s.subject)


def check_tracking(sweep: Sweep, page, sent: list[Sent]) -> None:
    """Each ticket's tracking page, as its customer sees it."""
    for s in sent:
        shows = {"h1": [s.subject], "#thread": s.description + s.thread}
        if s.files:
            shows["main"] = s.files
        sweep.visit(page, tokens.tracking_path(s.ticket), shows=shows)


def check_admin(sweep: Sweep, page, sent: list[Sent], *, changes: int = 2) -> None:
    """The admin's lists of tickets, requesters and events, and the change pages of the first tickets and
    requesters, as a manager."""
    sweep.visit(page, "/admin/tickets/ticket/", shows={"#result_list": [s.subject for s in sent] + [
        s.name for s in sent]})
    sweep.visit(page, "/admin/tickets/requester/", shows={"#result_list": [s.name for s in sent]})
    # Each ticket has one "created" event; the log names its ticket by reference and subject.
    sweep.visit(page, "/admin/tickets/event/?kind=created", shows={"#result_list": [s.subject for s in sent]})
    for s in sent[:changes]:
        sweep.visit(page, f"/admin/tickets/ticket/{s.ticket.pk}/change/",
                    shows={"#content-main": [s.subject, *s.description, *s.thread]})
        requester = Requester.objects.get(tickets=s.ticket)
        sweep.visit(page, f"/admin/tickets/requester/{requester.pk}/change/", holds={"#id_name": [s.name]})


def check_dashboard(sweep: Sweep, page, sent: list[Sent], *, category: str | None = None) -> None:
    """The manager dashboard (with its breakdowns), the list of tickets behind "created", and both opened from a
    crafted link whose parameters the pages repeat."""
    shows = {"#by_category": [category]} if category else {}
    sweep.visit(page, "/dashboard/", shows=shows)
    drill = page.locator("[data-metric=created] .value a").get_attribute("href")
    sweep.visit(page, drill, shows={"#drill-table": [s.subject for s in sent]})
    crafted = {"period": "XSS-29", "tier": "XSS-06", "category": "XSS-28", "step": "XSS-36"}
    values = {name: xss.BY_MARKER[marker].text for name, marker in crafted.items()}
    sweep.visit(page, f"/dashboard/?{urlencode(values)}", shows={"#dashboard-problems": list(values.values())})
    sweep.visit(page, f"{drill}&{urlencode(values)}&page={quote(GROUPS[0][0].text)}")


# --- the corpus ----------------------------------------------------------------------------------------------


def test_the_corpus_covers_the_attacks_the_issue_names():
    """At least 40 distinct payloads, each naming its own marker and only it, covering script tags, event handlers,
    javascript: URLs, SVG, encoded variants, attribute and element breakouts, template and Markdown strings."""
    texts = [payload.text for payload in xss.CORPUS]
    assert len(xss.CORPUS) >= 40 and len(set(texts)) == len(texts)
    assert [payload.marker for payload in xss.CORPUS] == [f"XSS-{n:02d}" for n in range(1, len(xss.CORPUS) + 1)]
    for payload in xss.CORPUS:
        assert xss.markers_in(payload.text) == {payload.marker}, payload
        assert payload.fires in xss.FIRES, payload
    everything = "\n".join(texts).lower()
    for needle in ("<script>", "onerror=", "onload=", "javascript:", "<svg", "<iframe srcdoc", "<math>", "</style>",
                   "&lt;script&gt;", "%3cscript%3e", "\\u003c", "\uff1cscript", "\" onmouseover=", "</textarea>",
                   "{{7*7}}", "{% debug %}", "${7*7}", "](javascript:", "![", "<noscript>"):
        assert needle in everything, needle
    assert all(len(xss.joined(group)) <= FIELD_MAX for group in GROUPS)
    assert sorted(payload.marker for group in GROUPS for payload in group) == sorted(xss.BY_MARKER)


# Where each kind of payload is put to prove it runs; "#host" is the element the test focuses, hovers or clicks.
RAW_HOSTS = {
    "html": "<div id=host>{}</div>",
    "beacon": "<div id=host>{}</div>",
    "click": "<div id=host>{}</div>",
    "decoded": "<div id=host>{}</div>",
    "attr": '<input id=host value="{}">',
    "attr1": "<input id=host value='{}'>",
    "href": '<a id=host href="{}">open</a>',
    "textarea": "<textarea id=host>{}</textarea>",
    "title": "<title>{}</title><p id=host>page</p>",
    "script": '<script>const reply = "{}";</script><p id=host>page</p>',
    "style": "<style>p { color: gray } {}</style><p id=host>page</p>",
}


@pytest.mark.browser
def test_every_payload_runs_where_a_page_would_render_it_raw(browser):
    """The detectors and the corpus, proven together: unescaped, each payload runs (or reaches another host) and
    names its own marker. Markdown, template and mutation payloads need a renderer, a template engine or a
    sanitiser to go wrong first; the other tests check them for inertness only."""
    context = browser.new_context()
    page = context.new_page()
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: seen.append(message.text))
    page.on("request", lambda request: seen.append(request.url) if request.url.startswith(xss.BEACON) else None)
    silent = []
    try:
        for payload in xss.CORPUS:
            if payload.fires not in RAW_HOSTS:
                continue
            seen.clear()
            text = xss.decoded(payload.text) if payload.fires == "decoded" else payload.text
            page.goto("about:blank")
            page.set_content(f"<!doctype html><html><head></head><body>{RAW_HOSTS[payload.fires]}</body></html>"
                             .replace("{}", text))
            if payload.fires in ("attr", "attr1"):
                page.locator("#host").focus()
                page.locator("#host").hover()
            elif payload.fires == "click":
                page.locator("#host a").click()
            elif payload.fires == "href":
                page.locator("#host").click()
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            stored = page.evaluate("() => window.__xss === undefined ? '' : String(window.__xss)")
            if payload.marker not in {*xss.markers_in(" ".join(seen)), *xss.markers_in(stored)}:
                silent.append(f"{payload.marker} ({payload.fires}): {payload.text!r} did nothing; saw {seen}")
    finally:
        context.close()
    assert not silent, "\n".join(silent)
    assert {payload.fires for payload in xss.CORPUS} - set(RAW_HOSTS) == {"markdown", "template", "mutation"}


# --- the channels --------------------------------------------------------------------------------------------


@live
def test_portal_reports_and_replies_show_every_payload_as_text(sweep, live_server, alice, mona, settings):
    """Name, subject, description, category and files through the report form; a reply with files, "not fixed"
    and a confirmation with a comment through the tracking page. Then the customer's, the agent's and the
    manager's pages, the admin included."""
    settings.PORTAL_REPORT_RATE = "100/m"  # one address sends a report per group of payloads within a minute
    CategoryFactory(name=CATEGORY_NAME, slug=CATEGORY_SLUG)
    customer = sweep.open_page()
    tracking = []
    for n, group in enumerate(GROUPS):
        text = xss.joined(group)
        sweep.visit(customer, "/support/", shows={"#id_category option": [CATEGORY_NAME]} if n == 0 else None)
        customer.fill("#id_name", text)
        customer.fill("#id_email", f"portal{n}@example.com")
        customer.fill("#id_subject", text)
        customer.fill("#id_description", EVERYTHING)
        if n == 0:
            customer.select_option("#id_category", CATEGORY_SLUG)
        files = [upload(f"{payload.text}.txt") for payload in group if payload.path_safe]
        if files:
            customer.set_input_files("#id_files", files)
        with customer.expect_navigation():
            customer.locator("#report-form button[type=submit]").click()
        sweep.check(customer, shows={"#reference": ["HD-"]})
        tracking.append(customer.locator("#tracking-link").get_attribute("href"))

    # A file type the desk refuses: the form comes back with the customer's text in its fields and the file's name
    # in the error.
    sweep.visit(customer, "/support/")
    refused = xss.BY_MARKER["XSS-04"].text + ".exe"
    for selector, value in (("#id_name", GROUPS[0][0].text), ("#id_subject", GROUPS[1][0].text),
                            ("#id_email", "refused@example.com"), ("#id_description", EVERYTHING)):
        customer.fill(selector, value)
    customer.set_input_files("#id_files", [upload(refused)])
    sweep.problems.allow(r"/support/: Failed to load resource: the server responded with a status of 400")
    with customer.expect_navigation():
        customer.locator("#report-form button[type=submit]").click()
    sweep.check(customer, shows={".field-error": [refused]},
                holds={"#id_name": [GROUPS[0][0].text], "#id_subject": [GROUPS[1][0].text],
                       "#id_description": ALL_TEXTS})

    tickets = list(Ticket.objects.select_related("requester").order_by("id"))
    assert len(tickets) == len(GROUPS)
    sent = []
    for ticket, group in zip(tickets, GROUPS, strict=True):
        text = xss.joined(group)
        assert (ticket.subject, ticket.requester.name, lines(ticket.description)) == (text, text, EVERYTHING)
        sent.append(Sent(ticket, text, text, files=stored_files(ticket, [p for p in group if p.path_safe])))
    first = sent[0]
    assert first.ticket.category.name == CATEGORY_NAME
    first.desk["[data-field=category]"] = [CATEGORY_NAME]

    # The customer answers on the tracking page, with files.
    reply_files = [p for p in xss.CORPUS if p.path_safe][-PORTAL_MAX_FILES:]
    customer.goto(tracking[0])
    customer.fill("#reply-body", EVERYTHING)
    customer.set_input_files("#reply-files", [upload(f"reply {p.text}.txt") for p in reply_files])
    with customer.expect_navigation():
        customer.locator("#reply-form button[type=submit]").click()
    first.thread += ALL_TEXTS
    first.files = stored_files(first.ticket, [p for p in GROUPS[0] if p.path_safe] + reply_files)
    # A file the desk refuses: the answer names it.
    customer.set_input_files("#reply-files", [upload(refused)])
    sweep.problems.allow(r"/support/t/.*: Failed to load resource: the server responded with a status of 400")
    with customer.expect_navigation():
        customer.locator("#reply-form button[type=submit]").click()
    sweep.check(customer, shows={".alert-error": [refused]})
    # Resolved, the customer says it is not fixed; resolved again, the customer confirms with a comment.
    agent(first.ticket.pk, alice)
    customer.goto(tracking[0])
    customer.fill("#not-fixed-reason", EVERYTHING)
    with customer.expect_navigation():
        customer.locator("#not-fixed-form button[type=submit]").click()
    agent(first.ticket.pk, alice)
    customer.goto(tracking[0])
    customer.locator("#confirm-form input[name=rating][value='4']").check()
    customer.fill("#confirm-comment", EVERYTHING)
    with customer.expect_navigation():
        customer.locator("#confirm-form button[type=submit]").click()
    first.ticket.refresh_from_db()
    assert (first.ticket.status, lines(first.ticket.csat_comment)) == (Status.CLOSED, EVERYTHING)
    first.timeline += ALL_TEXTS  # the "not fixed" reason and the confirmation's comment, both on the timeline

    check_tracking(sweep, customer, sent)
    # A crafted sign-in link: the page keeps where to go next.
    sweep.visit(customer, f"/accounts/login/?next={quote(GROUPS[0][0].text)}")
    # "My tickets", opened by the sign-in link the customer gets by e-mail.
    assert signin.send_link("portal1@example.com", "en")
    link = re.search(r"/support/mine/[^/\s]+/", mail.outbox[-1].body).group(0)
    sweep.visit(customer, link, shows={"#my-tickets": [sent[1].subject]})

    desk = sweep.open_page("alice")
    check_desk(sweep, desk, sent)
    # The closed ticket is an earlier fix now: the other tickets' "Solved before?" panel (loaded by script) offers it.
    sweep.visit(desk, f"/desk/t/{sent[1].ticket.pk}/", ready="#suggestion-list li[data-kind=ticket]",
                shows={"#suggestion-list": [first.subject]})
    manager = sweep.open_page("mona")
    check_dashboard(sweep, manager, sent, category=CATEGORY_NAME)
    check_admin(sweep, manager, sent)
    sweep.visit(manager, "/admin/tickets/category/", shows={"#result_list": [CATEGORY_NAME]})
    sweep.assert_clean()


@live
def test_api_tickets_comments_files_and_workflow_text_show_every_payload_as_text(sweep, browser, live_server,
                                                                                alice, mona):
    """An integration's token creates tickets (requester name, subject, description, category), uploads files,
    writes public replies and internal notes, and fills the diagnosis, the escalation and waiting reasons and the
    resolution. Then the desk (with the suggestions panel and the "Log a call" form's caller list), the tracking
    pages, the dashboard and the admin."""
    CategoryFactory(name=CATEGORY_NAME, slug=CATEGORY_SLUG)
    key = Token.objects.create(user=staff_user("monitoring", tier="L1")).key
    integration = browser.new_context(base_url=live_server.url, extra_http_headers={"Authorization": f"Token {key}"})
    sent = []
    try:
        api = integration.request

        def call(path: str, expected: int = 200, **kwargs) -> dict:
            response = api.post(f"/api/v1/tickets/{path}", **kwargs)
            assert response.status == expected, f"{path}: {response.status} {response.text()[:500]}"
            return response.json()

        for n, group in enumerate(GROUPS):
            text = xss.joined(group)
            created = call("", 201, data={
                "subject": text, "description": EVERYTHING, "requester": {"email": f"api{n}@example.com", "name": text},
                **({"category": CATEGORY_SLUG} if n == 0 else {})})
            for payload in group:
                if payload.path_safe:
                    call(f"{created['id']}/attachments/", 201,
                         multipart={"file": upload(f"{payload.text}.txt")})
            ticket = Ticket.objects.select_related("requester", "category").get(pk=created["id"])
            assert (ticket.subject, ticket.requester.name, ticket.description) == (text, text, EVERYTHING)
            sent.append(Sent(ticket, text, text, files=stored_files(ticket, [p for p in group if p.path_safe])))
        first, escalated, resolved, waiting = sent[:4]
        assert first.ticket.category.name == CATEGORY_NAME
        first.desk["[data-field=category]"] = [CATEGORY_NAME]
        # A public reply and an internal note.
        call(f"{first.ticket.pk}/comments/", 201, data={"body": EVERYTHING})
        call(f"{first.ticket.pk}/comments/", 201, data={"body": EVERYTHING, "internal": True})
        first.thread += ALL_TEXTS
        # Diagnosed and escalated to L2: Alice (L1) reads the diagnosis as text, not in a form.
        call(f"{escalated.ticket.pk}/take/")
        call(f"{escalated.ticket.pk}/diagnose/", data={"affected_item": escalated.subject, "steps_before": EVERYTHING,
                                                         "findings": EVERYTHING})
        call(f"{escalated.ticket.pk}/escalate/", data={"reason": xss.joined(HALVES[0], separator="\n")})
        escalated.timeline += [payload.text for payload in HALVES[0]]
        escalated.desk.update({"[data-field=affected_item]": [escalated.subject],
                               "[data-field=steps_before]": ALL_TEXTS, "[data-field=findings]": ALL_TEXTS})
        # Resolved: shown on its page, and as an earlier fix in the other tickets' suggestions.
        call(f"{resolved.ticket.pk}/take/")
        call(f"{resolved.ticket.pk}/resolve/", data={"summary": EVERYTHING, "affected_item": resolved.subject,
                                                       "steps_before": EVERYTHING, "findings": EVERYTHING})
        resolved.desk["[data-field=resolution]"] = ALL_TEXTS
        # Waiting for the customer, with the question asked.
        call(f"{waiting.ticket.pk}/take/")
        call(f"{waiting.ticket.pk}/wait/", data={"reason": xss.joined(HALVES[1], separator="\n")})
        waiting.timeline += [payload.text for payload in HALVES[1]]
        # The first requester writes again in the same category: a repeat contact, linked to the first ticket.
        again = call("", 201, data={"subject": GROUPS[1][0].text, "description": EVERYTHING, "category": CATEGORY_SLUG,
                                    "requester": {"email": "api0@example.com", "name": "ignored"}})
        repeat = Ticket.objects.get(pk=again["id"])
        assert repeat.repeat_of_id == first.ticket.pk
        first.desk[".related"] = [repeat.subject]
        sent.append(Sent(repeat, repeat.subject, first.name, desk={"#repeat-of": [first.subject]}))
        # A webhook target with payloads in its path and query, registered with a manager's token (inactive:
        # nothing is sent).
        hook = api.post("/api/v1/webhooks/", data={"url": WEBHOOK_URL, "is_active": False},
                        headers={"Authorization": f"Token {Token.objects.create(user=mona).key}"})
        assert hook.status == 201, hook.text()
    finally:
        integration.close()

    desk = sweep.open_page("alice")
    check_desk(sweep, desk, sent)
    # The suggestions panel of an open ticket offers the resolved one; its fix is pasted into the reply by script.
    sweep.visit(desk, f"/desk/t/{first.ticket.pk}/", ready=f"#suggestion-list li[data-id='{resolved.ticket.pk}']",
                shows={"#suggestion-list": [resolved.subject]})
    fix = desk.locator(f"#suggestion-list li[data-kind=ticket][data-id='{resolved.ticket.pk}']")
    fix.locator("form[data-paste] button").click()
    sync_api.expect(fix.locator("form[data-paste] button")).to_be_disabled()
    sweep.check(desk, holds={"#comment-body": ALL_TEXTS})
    # Without the script, the same button posts and the page comes back with the reply box filled in.
    sweep.visit(desk, f"/desk/t/{first.ticket.pk}/", ready=f"#suggestion-list li[data-id='{resolved.ticket.pk}']")
    with desk.expect_navigation():
        fix.locator("form[data-paste]").evaluate("form => form.submit()")
    sweep.check(desk, holds={"#comment-body": ALL_TEXTS})
    # "Log a call" lists earlier callers as the agent types; their names go into the page by script.
    sweep.visit(desk, "/desk/new/")
    desk.locator("#requester-email").fill("api1")  # one input event, one request
    desk.locator("#requester-suggestions option").first.wait_for(state="attached")
    callers = {r.email: r.name for r in Requester.objects.filter(email__startswith="api1")}
    sweep.check(desk, holds={"#requester-suggestions option": list(callers)})
    names = desk.locator("#requester-suggestions option").evaluate_all("options => options.map(o => o.textContent)")
    if sorted(names) != sorted(callers.values()):
        sweep.add("/desk/new/", f"the caller list shows {names!r}, not the names {sorted(callers.values())!r}")
    # Picking a caller fills in their name.
    desk.locator("#requester-email").fill("api1@example.com")
    desk.wait_for_function("() => document.getElementById('requester-name').value !== ''")
    sweep.check(desk, holds={"#requester-name": [callers["api1@example.com"]]})

    check_tracking(sweep, sweep.open_page(), sent)
    manager = sweep.open_page("mona")
    check_dashboard(sweep, manager, sent, category=CATEGORY_NAME)
    check_admin(sweep, manager, sent, changes=3)
    sweep.visit(manager, "/admin/webhooks/webhook/", shows={"#result_list": [WEBHOOK_URL]})
    sweep.visit(manager, f"/admin/webhooks/webhook/{Webhook.objects.get().pk}/change/",
                shows={"#content-main": [WEBHOOK_URL]})
    sweep.assert_clean()


def e_mail(*, name: str, sender: str, subject: str, text: str = EVERYTHING, html_body: str = "", files=(),
           number: int) -> bytes:
    """A message as a mail client writes it: display name quoted, RFC 2047 where needed, one file a part."""
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=sender)
    message["To"] = "helpdesk@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<xss-{number}@mail.example.com>"
    if html_body:
        message.set_content(html_body, subtype="html")
    else:
        message.set_content(text)
    for filename in files:
        message.add_attachment(b"printer log\n", maintype="text", subtype="plain", filename=filename)
    # Unfolded headers: Python's folding of a long display name drops its quotes, which no mail client does.
    return message.as_bytes(policy=policy.default.clone(max_line_length=0))


@live
def test_inbound_mail_headers_bodies_and_file_names_show_every_payload_as_text(sweep, live_server, alice, mona):
    """From display names, subjects, plain and HTML bodies, attachment names (taken and refused), a reply and a
    quarantined message, routed through `inbound.services.receive` as the mailbox poller does. Then the desk,
    the tracking pages, and the admin's inbound log, tickets and requesters."""
    sent = []
    refused = xss.BY_MARKER["XSS-04"].text + ".exe"
    for n, group in enumerate(GROUPS):
        text = xss.joined(group)
        files = [f"{payload.text}.txt" for payload in group if payload.path_safe] + ([refused] if n == 0 else [])
        record, new = receive(e_mail(name=text, sender=f"mail{n}@example.com", subject=text, files=files, number=n),
                              source=InboundMessage.Source.COMMAND)
        assert (new, record.outcome) == (True, InboundMessage.Outcome.OPENED), record.reason
        ticket = Ticket.objects.select_related("requester").get(pk=record.ticket_id)
        assert (ticket.subject, ticket.requester.name) == (text, text)
        if n:
            assert ticket.description == EVERYTHING
        else:  # with a line about the refused file
            assert ticket.description.startswith(EVERYTHING) and refused in ticket.description
        sent.append(Sent(ticket, text, text, files=stored_files(ticket, [p for p in group if p.path_safe])))
    # The refused file's name is written into the description, for agent and customer.
    first = sent[0]
    first.description = [*ALL_TEXTS, refused]
    # An HTML-only message: its text, entities decoded, must still be shown as text.
    markup = "".join(f"<p>{html.escape(p.text)}</p>" for p in xss.CORPUS) + "<script>alert('XSS-01')</script>"
    record, _ = receive(e_mail(name="Dana", sender="html@example.com", subject=GROUPS[1][0].text, html_body=markup,
                               number=100), source=InboundMessage.Source.COMMAND)
    html_ticket = Ticket.objects.get(pk=record.ticket_id)
    assert html_ticket.description == EVERYTHING
    sent.append(Sent(html_ticket, GROUPS[1][0].text, "Dana"))
    # The requester answers by e-mail; a stranger's answer to another ticket is held in the quarantine.
    reply_subject = f"Re: [{first.ticket.reference}] {first.subject}"
    record, _ = receive(e_mail(name=first.name, sender="mail0@example.com", subject=reply_subject, number=101),
                        source=InboundMessage.Source.COMMAND)
    assert record.outcome == InboundMessage.Outcome.REPLIED, record.reason
    first.thread += ALL_TEXTS
    stranger_subject = f"Re: [{sent[1].ticket.reference}] {GROUPS[2][0].text}"
    quarantined, _ = receive(e_mail(name=GROUPS[3][0].text, sender="stranger@example.com", subject=stranger_subject,
                                    number=102), source=InboundMessage.Source.COMMAND)
    assert quarantined.outcome == InboundMessage.Outcome.QUARANTINED

    check_desk(sweep, sweep.open_page("alice"), sent)
    check_tracking(sweep, sweep.open_page(), sent)
    manager = sweep.open_page("mona")
    check_admin(sweep, manager, sent)
    records = InboundMessage.objects.order_by("id")
    sweep.visit(manager, "/admin/inbound/inboundmessage/",
                shows={"#result_list": [s.subject for s in sent] + [reply_subject, stranger_subject]})
    for record in (records.get(ticket=first.ticket, outcome=InboundMessage.Outcome.OPENED), quarantined,
                   records.get(outcome=InboundMessage.Outcome.REPLIED), records.get(ticket=html_ticket)):
        sweep.visit(manager, f"/admin/inbound/inboundmessage/{record.pk}/change/",
                    shows={"#content-main": [record.subject, record.reason]})
    sweep.assert_clean()


@live
def test_knowledge_articles_and_their_uses_show_every_payload_as_text(sweep, live_server, alice, mona):
    """Articles written with payloads in title, problem, solution (Markdown) and tags, one edited (its history);
    an article published from a customer's ticket, whose description becomes Markdown. Customers meet them in the
    help pages and under the report form ("This solved it" stores their words); agents in the knowledge base and
    the ticket's suggestions (linking one puts its title on the timeline); managers in the dashboard and admin."""
    articles = []
    for group in GROUPS:
        tags = tuple(dict.fromkeys(p.text.lower() for p in group if len(p.text) <= knowledge.TAG_MAX))
        articles.append(knowledge.article_save(user=alice, data=knowledge.ArticleInput(
            title=xss.joined(group), problem=EVERYTHING, solution=EVERYTHING, tags=tags,
            visibility=Visibility.PUBLIC)))
    edited = knowledge.article_save(user=alice, article_id=articles[0].pk, version=articles[0].version, data=(
        knowledge.ArticleInput(title=xss.joined(reversed(GROUPS[0])), problem=EVERYTHING,
                               solution=xss.every_payload("\n\n"), tags=(), visibility=Visibility.PUBLIC)))
    titles = [article.title for article in Article.objects.all()]
    # A customer's ticket, resolved and published: its description is the article's problem, in Markdown.
    customer_ticket = make_ticket(subject=xss.joined(GROUPS[1]), description=EVERYTHING,
                                  requester_email="kb@example.com")
    agent(customer_ticket.pk, alice)

    desk = sweep.open_page("alice")
    sweep.visit(desk, "/desk/kb/", shows={"#articles": titles})
    for article in Article.objects.all():
        tags = {".badge.tag": list(article.tag_list)} if article.tag_list else {}
        sweep.visit(desk, f"/desk/kb/{article.pk}/", title=article.title, shows={"h1": [article.title], **tags})
    sweep.visit(desk, f"/desk/kb/{edited.pk}/history/",
                shows={"#revisions": [articles[0].title, edited.title, *ALL_TEXTS]})
    sweep.visit(desk, f"/desk/kb/{edited.pk}/edit/",
                holds={"#id_title": [edited.title], "#id_problem": ALL_TEXTS, "#id_solution": ALL_TEXTS})
    sweep.visit(desk, f"/desk/kb/{articles[1].pk}/edit/", holds={"#id_tags": list(articles[1].tag_list)})
    sweep.visit(desk, f"/desk/kb/?q={quote(GROUPS[2][0].text)}", holds={"#kb-search": [GROUPS[2][0].text]})
    # Publishing the customer's ticket from its page.
    sweep.visit(desk, f"/desk/t/{customer_ticket.pk}/", shows={"h1": [customer_ticket.subject]})
    with desk.expect_navigation():
        desk.locator("#publish-form button").click()
    published = Article.objects.get(source_ticket=customer_ticket)
    assert (published.title, published.problem.startswith(EVERYTHING)) == (customer_ticket.subject, True)
    sweep.check(desk, shows={"h1": [customer_ticket.subject], "#article-problem": AS_MARKDOWN_TEXT,
                             "#article-solution": ["Cleared the print queue"]})
    knowledge.article_save(user=alice, article_id=published.pk, version=published.version, data=(
        knowledge.ArticleInput(title=published.title, problem=published.problem, solution=published.solution,
                               visibility=Visibility.PUBLIC)))

    # An open ticket: its suggestions offer the articles; linking one puts its title on the timeline.
    open_ticket = make_ticket(subject=xss.joined(GROUPS[0]), description=EVERYTHING, requester_email="kb2@example.com")
    sweep.visit(desk, f"/desk/t/{open_ticket.pk}/", ready="#suggestion-list li[data-kind=article]")
    offered = desk.locator("#suggestion-list li[data-kind=article]")
    ids = offered.evaluate_all("items => items.map(li => li.dataset.id)")
    sweep.check(desk, shows={"#suggestion-list": [title_of(pk) for pk in ids]})
    linked = title_of(ids[0])
    with desk.expect_navigation():
        offered.first.locator("form.use-form:not([data-paste]) button").click()
    sweep.check(desk, shows={".suggestion-used": [linked]})

    customer = sweep.open_page()
    sweep.visit(customer, "/support/kb/", shows={"#kb-results": [a.title for a in Article.objects.all()]})
    sweep.visit(customer, f"/support/kb/?q={quote(GROUPS[3][0].text)}", holds={"#kb-q": [GROUPS[3][0].text]})
    for pk in (edited.pk, articles[1].pk, published.pk):
        sweep.visit(customer, f"/support/kb/{pk}/?q={quote(GROUPS[4][0].text)}",
                    shows={"h1": [title_of(pk)], "#article-problem": AS_MARKDOWN_TEXT},
                    holds={"input[name=q]": [GROUPS[4][0].text]})
    # Under the report form, the articles matching what the customer types; "This solved it" keeps their words.
    asked = xss.joined(GROUPS[5])
    sweep.visit(customer, "/support/")
    customer.fill("#id_subject", asked)
    items = customer.locator("#deflect-list .deflect-item")
    items.first.wait_for()
    shown = items.evaluate_all("items => items.map(i => [i.dataset.articleId, i.querySelector('summary').innerText])")
    for pk, title in shown:
        if title != title_of(pk):
            sweep.add("/support/", f"the offered article {pk} is titled {title!r}, not {title_of(pk)!r}")
    sweep.check(customer, holds={"#deflect-list input[name=q]": [asked]})
    items.first.locator("details").evaluate("details => { details.open = true; }")
    with customer.expect_navigation():
        items.first.locator("form.solved-form button").click()
    sweep.check(customer)
    assert Deflection.objects.get().query == asked

    manager = sweep.open_page("mona")
    sweep.visit(manager, "/dashboard/", shows={"#top-articles": [linked]})
    sweep.visit(manager, "/admin/knowledge/article/", shows={"#result_list": [a.title for a in Article.objects.all()]})
    sweep.visit(manager, "/admin/knowledge/deflection/", shows={"#result_list": [asked]})
    sweep.visit(manager, "/admin/knowledge/suggestionuse/",
                shows={"#result_list": [open_ticket.subject, linked]})
    sweep.visit(manager, f"/admin/knowledge/article/{edited.pk}/change/", shows={"#content-main": [edited.title]})
    sweep.assert_clean()
