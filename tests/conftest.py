"""Shared fixtures: the cast, ticket builders, and the rules for PostgreSQL-only tests.

The cast: Alice works at L1, Bob at L2, Charlie at L3, Mona manages; Dana is
a customer.
"""
import os

import pytest
from django.core.cache import cache
from django.db import connection

from tests.factories import make_ticket, staff_user
from tickets import services
from tickets.policy import Actor
from tiers.models import Tier
from tiers.selectors import clear_policy_cache

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_skipped = []


def pytest_collection_modifyitems(config, items):
    if IN_CI and connection.vendor != "postgresql" and any(item.get_closest_marker("postgres") for item in items):
        raise pytest.UsageError("CI runs every test: PostgreSQL-only tests need DATABASE_URL pointing at PostgreSQL.")


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL); runs in CI")


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # In CI a skipped test is a test that did not run: fail the session.
    if IN_CI and _skipped and session.exitstatus == 0:
        session.exitstatus = 1
        print(f"\nCI=true and {len(_skipped)} test(s) were skipped: {_skipped}")


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Policies and tiers are cached per process, throttle counters in the
    # cache: each test starts from its own state.
    clear_policy_cache()
    cache.clear()
    yield
    clear_policy_cache()


@pytest.fixture
def tiers(db):
    return {tier.code: tier for tier in Tier.objects.all()}


@pytest.fixture
def alice(db):
    return staff_user("alice", tier="L1")


@pytest.fixture
def bob(db):
    return staff_user("bob", tier="L2")


@pytest.fixture
def charlie(db):
    return staff_user("charlie", tier="L3")


@pytest.fixture
def mona(db):
    return staff_user("mona", manager=True)


@pytest.fixture
def as_alice(alice):
    return Actor.of_user(alice)


@pytest.fixture
def as_bob(bob):
    return Actor.of_user(bob)


@pytest.fixture
def as_mona(mona):
    return Actor.of_user(mona)


@pytest.fixture
def ticket(db):
    """A new L1 ticket from Dana."""
    return make_ticket()


@pytest.fixture
def dana(ticket):
    return Actor.customer(ticket.requester)


@pytest.fixture
def diagnosed(ticket, as_alice):
    """Dana's ticket, taken by Alice, with a complete diagnosis."""
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    return services.ticket_diagnose(
        actor=as_alice,
        ticket_id=ticket.pk,
        affected_item="Laptop T14",
        steps_before="Installed the monthly updates",
        findings="The driver update broke the dock",
    )
