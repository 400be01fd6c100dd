"""Concurrent retries with one Idempotency-Key create exactly one ticket (PostgreSQL, separate connections)."""
import pytest

from tests.api.conftest import client_for
from tests.concurrency import race
from tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_ten_concurrent_retries_with_one_key_make_one_ticket(alice):
    payload = {"subject": "Disk full", "description": "fs01 /srv at 98%", "requester": {"email": "mon@example.com"}}

    def retry():
        return client_for(alice).post("/api/v1/tickets/", payload, format="json", HTTP_IDEMPOTENCY_KEY="alert-42")

    responses = race(*[retry] * 10)
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert Ticket.objects.count() == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 9
