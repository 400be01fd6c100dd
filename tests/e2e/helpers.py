"""Steps shared by the browser tests."""
import re

from django.utils import translation


def sign_in(page, live_server, username: str, password: str = "pw") -> None:
    """Sign in through the login form and wait for the agent workspace (/desk/)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    # The header's language form has a submit button too: click the one of the login form.
    page.locator("form:has(#id_username) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/desk/$"))


def action_form(page, action: str):
    """The form of a workflow action on the ticket page, opened if it sits in a closed <details>."""
    form = page.locator(f"form[data-action={action}]")
    form.evaluate("f => { const d = f.closest('details'); if (d) d.open = true; }")
    return form


def submit_action(page, action: str, **fields) -> None:
    """Fill the named fields of an action form, submit it and wait for the next page."""
    form = action_form(page, action)
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()


def timeline_kinds(page) -> list[str]:
    return page.locator("ol#timeline > li[data-kind]").evaluate_all("items => items.map(li => li.dataset.kind)")


def ru(msgid: str) -> str:
    """The Russian text for an English msgid, read from the compiled catalogue."""
    with translation.override("ru"):
        return translation.gettext(msgid)
