"""Browser tests: a headless Chromium (Debian's package) driven by Playwright against pytest-django's live server.

Every page opened through these fixtures reports JavaScript errors, console
errors and Content-Security-Policy violations; a test that passed but left any
of them fails. Screenshots go to var/screenshots/ (kept by CI as artifacts).
"""
import contextlib
import os
import re
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DEFAULT_TIMEOUT_MS = 15_000

# Injected before any page script; runs outside the page's CSP. Chromium logs
# violations to the console as well; this names the directive and the source.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || document.location.href}:${e.lineNumber}`);
});
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in a real browser (headless Chromium, Playwright)")


class BrowserProblems:
    """JS errors, console errors and CSP violations seen by the pages of one test."""

    def __init__(self):
        self.seen: list[str] = []
        self._allowed: list[re.Pattern] = []

    def allow(self, pattern: str) -> None:
        """Accept messages matching `pattern` (e.g. the console line for an expected 409 answer)."""
        self._allowed.append(re.compile(pattern))

    def add(self, message: str) -> None:
        self.seen.append(message)

    def unexpected(self) -> list[str]:
        return [m for m in self.seen if not any(p.search(m) for p in self._allowed)]

    def watch(self, page) -> None:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.add(f"uncaught exception on {page.url}: {exc}"))

    def _console(self, page, msg) -> None:
        if msg.type == "error":
            where = msg.location or {}
            self.add(f"console error on {page.url}: {msg.text} [{where.get('url', '')}:{where.get('lineNumber', '')}]")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # a failing test raises here and keeps its own failure
    problems = getattr(item, "_browser_problems", None)
    if problems is not None and problems.unexpected():
        listing = "\n".join(f"  - {m}" for m in problems.unexpected())
        raise AssertionError(f"the browser reported errors (JS, console or CSP):\n{listing}")
    return result


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for all the e2e tests.

    Package scope, not session scope: while Playwright runs, its asyncio loop is
    marked as running in the test thread. That loop, and the
    DJANGO_ALLOW_ASYNC_UNSAFE switch it needs, must end with the last e2e test:
    left on, every later test would run with a "running loop", and a test that
    starts `manage.py check --deploy` would inherit the variable and fail
    (async.E001).
    """
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it in .ci/run)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    # Django refuses ORM calls from a thread with a running event loop. The test
    # thread never runs async code itself; the loop is Playwright's.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pinned = {alias: connections[alias] for alias in connections}
    playwright = None
    try:
        playwright = sync_api.sync_playwright().start()
        # With a running loop in this thread Django keeps database connections
        # per context instead of per thread: the tests would get fresh
        # connection objects without the test database's serialized contents,
        # and serialized_rollback would silently stop restoring the data
        # migrations' rows (tiers, SLA policies). Keep the same objects.
        for alias, connection in pinned.items():
            connections[alias] = connection
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        sync_api.expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
        yield browser
        browser.close()
    finally:
        if playwright is not None:
            playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_problems(request):
    problems = BrowserProblems()
    request.node._browser_problems = problems
    return problems


@pytest.fixture
def screenshot(request):
    """`screenshot(page, "step")` saves var/screenshots/<test-name>-<step>.png and returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    for old in SCREENSHOTS.glob(f"{test_name}-*.png"):  # the folder shows the latest run only
        old.unlink(missing_ok=True)

    def take(page, step: str) -> Path:
        path = SCREENSHOTS / f"{test_name}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def new_page(request, browser, live_server, browser_problems, screenshot):
    """`new_page()` opens a page in a fresh browser context (own cookies: one signed-in user per context)."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", base_url=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.add_init_script(_CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        browser_problems.watch(page)
        return page

    yield open_page

    failed = getattr(request.node, "_report_call", None)
    for n, context in enumerate(contexts, start=1):
        if failed is not None and failed.failed:
            for m, page in enumerate(context.pages, start=1):
                # A page that cannot be photographed (it crashed) must not hide the test's own failure.
                with contextlib.suppress(Exception):
                    screenshot(page, f"failure-{n}-{m}")
        context.close()


@pytest.fixture
def page(new_page):
    """A page in its own browser context, 1280×800, locale en-US."""
    return new_page()
