"""The benchmark's guard in CI: the standard workload at 20,000 tickets, then cut to 2,000.

At both sizes every measured request must run the same number of SQL queries (nothing grows with the
data), and the queries behind the queues, the ticket list and full-text search must never read the tickets
table sequentially (EXPLAIN at 20,000 tickets, statistics fresh).
"""
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from bench.seed import seed
from tickets.models import Ticket
from tickets.workflow import OPEN_STATUSES

# serialized_rollback: the tiers and groups the migrations made come back for the tests after this one.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LARGE, SMALL = 20_000, 2_000
# The requests whose every query touching tickets must go through an index.
INDEXED = ("queue open", "queue mine", "queue unassigned", "queue breaching", "queue waiting", "queue all",
           "desk search", "api list",
           "api list filtered", "api search")


def requests_of(agent: str, ticket_id: int) -> dict:
    return {
        "queue open": ("desk", "/desk/", {"queue": "open"}),
        "queue mine": ("desk", "/desk/", {"queue": "mine"}),
        "queue unassigned": ("desk", "/desk/", {"queue": "unassigned"}),
        "queue breaching": ("desk", "/desk/", {"queue": "breaching"}),
        "queue waiting": ("desk", "/desk/", {"queue": "waiting"}),
        "queue all": ("desk", "/desk/", {"queue": "all"}),
        "desk search": ("desk", "/desk/", {"queue": "all", "q": "printer"}),
        "ticket page": ("desk", f"/desk/t/{ticket_id}/", {}),
        "suggestions": ("desk", f"/desk/kb/ticket/{ticket_id}/suggestions/", {}),
        "api list": ("api", "/api/v1/tickets/", {}),
        "api list filtered": ("api", "/api/v1/tickets/", {"status": "resolved", "tier": "L2", "priority": "P3"}),
        "api search": ("api", "/api/v1/tickets/", {"q": "printer"}),
        "api ticket": ("api", f"/api/v1/tickets/{ticket_id}/", {}),
        "metrics summary": ("manager", "/api/v1/metrics/summary/", {}),
        "dashboard": ("manager", "/dashboard/", {"period": "365d"}),
    }


def measure(ticket_id: int) -> tuple[dict, dict]:
    """{request: query count} and {request: [SQL of its queries that read tickets_ticket]}."""
    agent = "l1-01"
    desk, manager, api = Client(), Client(), Client()
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    desk.force_login(users.get(username=agent))
    manager.force_login(users.get(username="manager"))
    token, _ = Token.objects.get_or_create(user=users.get(username=agent))
    clients = {"desk": desk, "manager": manager, "api": api}
    counts, sqls = {}, {}
    for name, (who, url, params) in requests_of(agent, ticket_id).items():
        extra = {"HTTP_AUTHORIZATION": f"Token {token.key}"} if who == "api" else {}
        clients[who].get(url, params, **extra)  # warm: caches of policies and tiers
        with CaptureQueriesContext(connection) as captured:
            response = clients[who].get(url, params, **extra)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(captured)
        sqls[name] = [q["sql"] for q in captured if '"tickets_ticket"' in q["sql"] and q["sql"].startswith("SELECT")]
    return counts, sqls


def sequential_scans(sql: str) -> list[str]:
    """The plan of `sql` when it reads the tickets table sequentially (with the query), else nothing."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    if any(re.search(r"Seq Scan on tickets_ticket\b", line) for line in plan):
        return [sql, *plan]
    return []


def cut_to(tickets: int) -> None:
    """Delete every ticket above the first `tickets` (and what hangs off them), as if the data were smaller."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # the event log's append-only trigger
        for table in ("tickets_event", "tickets_comment", "tickets_attachment", "knowledge_suggestionuse"):
            cursor.execute(f"DELETE FROM {table} WHERE ticket_id > %s", [tickets])  # noqa: S608 - names above
        cursor.execute("UPDATE tickets_ticket SET repeat_of_id = NULL WHERE repeat_of_id > %s", [tickets])
        cursor.execute("DELETE FROM tickets_ticket WHERE id > %s", [tickets])
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")


def test_query_counts_do_not_grow_with_the_data_and_the_queues_use_indexes(settings):
    settings.SERVER_TIMING = False
    seed(LARGE)
    assert Ticket.objects.count() == LARGE
    ticket = Ticket.objects.filter(status__in=OPEN_STATUSES, pk__lte=SMALL, assignee__isnull=False).order_by("pk")[0]

    large, sqls = measure(ticket.pk)
    scans = {name: found for name in INDEXED for sql in sqls[name] if (found := sequential_scans(sql))}
    for name, plan in scans.items():
        print(f"\n{name}:\n" + "\n".join(plan))
    assert not scans, list(scans)

    cut_to(SMALL)
    assert Ticket.objects.count() == SMALL
    small, _sqls = measure(ticket.pk)
    assert large == small
