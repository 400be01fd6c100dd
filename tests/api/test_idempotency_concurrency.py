"""Concurrent retries with one Idempotency-Key create exactly one ticket (PostgreSQL, separate connections)."""
import threading

import pytest
from django.db import connection

from tests.api.conftest import client_for
from tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_ten_concurrent_retries_with_one_key_make_one_ticket(alice):
    barrier = threading.Barrier(10)
    responses = []
    payload = {"subject": "Disk full", "description": "fs01 /srv at 98%", "requester": {"email": "mon@example.com"}}

    def retry():
        client = client_for(alice)
        try:
            barrier.wait(timeout=10)
            responses.append(client.post("/api/v1/tickets/", payload, format="json", HTTP_IDEMPOTENCY_KEY="alert-42"))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert Ticket.objects.count() == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 9
