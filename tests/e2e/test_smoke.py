"""The browser infrastructure itself: Chromium starts, a user signs in and lands on the agent workspace."""
import pytest

from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_sign_in_lands_on_the_desk(page, live_server, alice, screenshot):
    sign_in(page, live_server, "alice")
    screenshot(page, "landing")
    response = page.reload()
    assert response is not None and response.ok, f"/desk/ answered {response and response.status}"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#id_password").count() == 0, "still on the login form"
