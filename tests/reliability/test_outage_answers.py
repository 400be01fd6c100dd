"""What the site answers while Redis or PostgreSQL is away, in one process (the real outages: the other files here).

Redis is the cache: a real redis-server is stopped under it, or the cache points at a port where nobody listens.
"""
import json
import socket
import time

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from django.urls import reverse

from helpdesk import cache as tolerant
from helpdesk import errors
from helpdesk.cache import TolerantRedisCache
from tests.api.conftest import client_for
from tickets.models import Ticket

OPTIONS = {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
REPORT = {"name": "Dana", "email": "dana@example.com", "subject": "Printer jams",
          "description": "On every page.", "website": ""}


@pytest.fixture
def nobody_listens():
    """A port that is bound but not listening: every connection to it is refused."""
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    yield reserved.getsockname()[1]
    reserved.close()


@pytest.fixture
def cache_down(settings, nobody_listens):
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.TolerantRedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{nobody_listens}/0", **OPTIONS}}


def test_with_redis_down_the_cache_answers_as_an_empty_cache_that_keeps_nothing(redis_server):
    cache = TolerantRedisCache(redis_server.url, OPTIONS)
    cache.set("kept", 1)
    assert cache.get("kept") == 1

    redis_server.stop()
    started = time.monotonic()
    assert cache.get("kept") is None and cache.get("kept", "default") == "default"
    assert cache.add("lock", "me") is False  # a lock taken in the cache is refused, never granted twice
    with pytest.raises(ValueError):
        cache.incr("kept")  # as for a missing counter
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.set("kept", 2) is None and cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.get_or_set("computed", 7) == 7
    assert (cache.has_key("kept"), cache.delete("kept"), cache.touch("kept"), cache.clear()) == (False,) * 4
    assert time.monotonic() - started < 1


def test_the_cache_uses_redis_again_a_moment_after_it_is_back(redis_server):
    cache = TolerantRedisCache(redis_server.url, OPTIONS)
    redis_server.stop()
    assert cache.get("kept") is None
    redis_server.start()
    cache.set("kept", 1)  # right after a failure Redis is left alone: dropped
    assert cache.get("kept") is None
    time.sleep(tolerant.PAUSE_SECONDS + 0.1)
    cache.set("kept", 1)
    assert cache.get("kept") == 1


@pytest.mark.django_db
def test_a_portal_report_is_accepted_without_rate_limits_while_the_cache_is_down(client, settings, cache_down):
    settings.PORTAL_REPORT_RATE = "1/m"  # the limit cannot be counted: it is off, the customer is not refused
    answers = [client.post(reverse("portal:report"), {**REPORT, "subject": f"Printer jams {n}"}) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert Ticket.objects.count() == 3


@pytest.mark.django_db
def test_an_api_ticket_is_created_through_the_throttles_while_the_cache_is_down(alice, cache_down):
    answer = client_for(alice).post("/api/v1/tickets/", {
        "subject": "VPN drops", "description": "Every ten minutes.",
        "requester": {"email": "dana@example.com", "name": "Dana"}}, format="json")
    assert answer.status_code == 201, answer.content
    assert Ticket.objects.filter(pk=answer.json()["id"]).exists()


def _handled(path: str, exc: Exception):
    """What Django's handler for uncaught exceptions answers for `exc` raised by a request to `path`."""
    try:
        raise exc
    except Exception:
        return errors.server_error(RequestFactory().get(path))


def test_an_unreachable_database_is_a_503_in_the_api_error_shape():
    answer = _handled("/api/v1/tickets/", OperationalError("connection refused"))
    assert answer.status_code == 503 and answer["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)
    assert answer["Content-Type"] == "application/json"
    body = json.loads(answer.content)
    assert body["code"] == "service_unavailable" and body["detail"]


def test_an_unreachable_database_is_a_short_503_page_elsewhere():
    answer = _handled("/support/", OperationalError("the database system is shutting down"))
    page = answer.content.decode()
    assert answer.status_code == 503 and answer["Retry-After"]
    assert "Temporarily unavailable" in page and "shutting down" not in page and len(page) < 1000


def test_any_other_error_is_still_a_500():
    assert _handled("/api/v1/tickets/", RuntimeError("bug")).status_code == 500
    assert _handled("/support/", RuntimeError("bug")).status_code == 500
