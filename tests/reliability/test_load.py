"""Thirty clients for a full minute against a live gunicorn: no 5xx, no connection error, every kind of request.

The clients are bench/load.py's: customers reporting problems on the portal, agents working at the desk,
integrations on the API, all at once. The server is the production web process (gunicorn with 4 workers,
DEBUG off, started as bench/run.py starts it) on the test database, which holds a few hundred tickets of the
benchmark's standard workload (bench/seed.py).
"""
import os

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils.crypto import get_random_string

_environ = dict(os.environ)
from bench import load  # noqa: E402
from bench.seed import seed  # noqa: E402

# bench/environment.py, which bench/load.py imports, sets the bench's defaults in os.environ: keep them out of
# the processes other tests start.
os.environ.clear()
os.environ.update(_environ)

from tickets.models import Ticket  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TICKETS = 300
CLIENTS = 30
SECONDS = 60


def database_url() -> str:
    """pytest-django's test database, for the server."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def workload():
    """The standard workload at 300 tickets; the desk agents can sign in to the production server."""
    seed(TICKETS)
    # The test settings hash passwords with MD5, which the production settings do not accept.
    hasher = PBKDF2PasswordHasher()
    for user in get_user_model().objects.filter(username__in=load.DESK_AGENTS):
        user.password = hasher.encode(load.suite.PASSWORD, get_random_string(22))
        user.save(update_fields=["password"])
    return load.facts()


def test_thirty_clients_for_a_minute_get_no_server_error(workload, tmp_path):
    url = database_url()
    load.collect_static(url, tmp_path)
    # The suite's own Redis (cache and broker) when it has one, as in production.
    redis_url = os.environ.get("REDIS_URL") or load.REDIS_URL
    server = load.start_server(url, 4, var_dir=tmp_path, redis_url=redis_url)
    try:
        summary = load.run_load(server.base, workload, clients=CLIENTS, seconds=SECONDS, warmup=2)
    finally:
        server.stop()
        # No worker ran: the events the server published wait in the broker; they belong to this test only.
        redis.Redis.from_url(redis_url).flushdb()
    log = server.tail(40)

    assert summary["server_errors"] == 0, (summary["failures"], log)
    assert summary["connection_errors"] == 0, summary["failures"]
    # No answer a request of its kind should never get (a CSRF refusal, a throttle, a 404), every kind sent.
    assert load.problems(summary) == [], summary
    assert all(figures["requests"] > 0 for figures in summary["kinds"].values())
    assert summary["seconds"] == SECONDS and summary["clients"] == CLIENTS
    # Every ticket reported on the portal or created on the API is there.
    created = sum(summary["kinds"][kind]["statuses_with_warmup"].get("201", 0)
                  for kind in ("portal-report", "api-create"))
    assert created > 0
    assert Ticket.objects.count() == workload["tickets"] + created
