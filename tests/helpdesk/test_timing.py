"""The Server-Timing header: on only when asked for, with the request's time and its SQL queries."""
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def test_no_timing_header_unless_it_is_switched_on(client, alice):
    client.force_login(alice)
    assert "Server-Timing" not in client.get("/desk/")


def test_the_header_names_the_time_and_the_queries(alice, settings):
    settings.SERVER_TIMING = True
    browser = Client()  # a new client loads the middleware, which reads the setting then
    browser.force_login(alice)
    with CaptureQueriesContext(connection) as captured:
        response = browser.get("/desk/")
    match = re.fullmatch(r'app;dur=([\d.]+), sql;dur=([\d.]+);desc="(\d+) queries"', response["Server-Timing"])
    assert match, response["Server-Timing"]
    assert float(match[1]) >= float(match[2]) >= 0
    assert int(match[3]) == len(captured.captured_queries) > 0
