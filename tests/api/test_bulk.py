"""`POST /api/v1/tickets/bulk/`: the answer's shape, mixed results, the limits, and who may call it."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import client_for
from tests.factories import make_ticket
from tickets import services
from tickets.models import Event, Ticket
from tickets.policy import Actor

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/bulk/"


def bulk(client, ids, action, data=None, **extra):
    return client.post(URL, {"ids": ids, "action": action, "data": data or {}, **extra}, format="json")


def assert_invalid(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"] and field in body["errors"], body


def test_mixed_results_one_per_ticket_in_the_order_given(api_mona, mona, alice, tiers):
    fine = make_ticket()
    top = make_ticket(tier=tiers["L3"])
    stale = make_ticket()
    services.comment_add(actor=Actor.of_user(alice), ticket_id=stale.pk, body="Logs attached", internal=True)
    missing = stale.pk + 1000
    events_before = Event.objects.filter(ticket__in=[top, stale]).count()

    response = bulk(api_mona, [top.pk, fine.pk, missing, stale.pk], "escalate", {"reason": "Network team"},
                    versions={str(stale.pk): 1})
    assert response.status_code == 200
    fine.refresh_from_db()
    assert response.json() == [
        {"id": top.pk, "ok": False, "error": {
            "code": "illegal_transition",
            "detail": "L3 is the highest tier; the ticket cannot be escalated further."}},
        {"id": fine.pk, "ok": True, "version": fine.version},
        {"id": missing, "ok": False, "error": {"code": "not_found", "detail": "No such ticket."}},
        {"id": stale.pk, "ok": False, "error": {
            "code": "stale_version",
            "detail": "This ticket was changed by someone else (version 2, you had 1). Reload it and try again."}},
    ]
    assert fine.tier.code == "L2" and fine.version == 2
    event = Event.objects.get(ticket=fine, kind="escalated")
    assert (event.reason, event.actor, event.actor_role) == ("Network team", mona, "integration")
    assert Event.objects.filter(ticket__in=[top, stale]).count() == events_before
    assert Ticket.objects.get(pk=stale.pk).tier.code == "L1"


def test_assign_tag_and_priority(api_alice, alice):
    a, b = make_ticket(), make_ticket()
    assigned = bulk(api_alice, [a.pk, b.pk], "assign", {"assignee": "alice"}).json()
    assert [r["ok"] for r in assigned] == [True, True]
    tagged = bulk(api_alice, [a.pk, b.pk], "tag", {"add": ["VPN", "urgent"], "remove": []}).json()
    assert [r["version"] for r in tagged] == [3, 3]
    changed = bulk(api_alice, [a.pk, b.pk], "priority", {"priority": "P2"}).json()
    assert [r["version"] for r in changed] == [4, 4]
    for ticket in (a, b):
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert (fresh.assignee, fresh.priority) == (alice, "P2")
        assert sorted(fresh.tags.values_list("name", flat=True)) == ["urgent", "vpn"]
        kinds = Event.objects.filter(ticket=ticket).exclude(kind="repeat_linked").order_by("id")
        assert list(kinds.values_list("kind", flat=True)) == ["created", "assigned", "tagged", "updated"]


def test_a_refused_ticket_keeps_every_field_tag_and_event(api_alice, tiers):
    mine = make_ticket()
    other_tier = make_ticket(tier=tiers["L2"])
    before = (Ticket.objects.filter(pk=other_tier.pk).values().get(), Event.objects.filter(ticket=other_tier).count())
    results = bulk(api_alice, [mine.pk, other_tier.pk], "tag", {"add": ["vpn"]}).json()
    assert [r["ok"] for r in results] == [True, False]
    assert results[1]["error"]["code"] == "forbidden"
    after = (Ticket.objects.filter(pk=other_tier.pk).values().get(), Event.objects.filter(ticket=other_tier).count())
    assert after == before
    assert not Ticket.objects.get(pk=other_tier.pk).tags.exists()


def test_a_repeated_id_counts_once(api_alice):
    ticket = make_ticket()
    results = bulk(api_alice, [ticket.pk, ticket.pk], "priority", {"priority": "P1"}).json()
    assert results == [{"id": ticket.pk, "ok": True, "version": 2}]


@pytest.mark.parametrize(("body", "field"), [
    ({"ids": [], "action": "priority", "data": {"priority": "P1"}}, "ids"),
    ({"ids": list(range(1, 102)), "action": "priority", "data": {"priority": "P1"}}, "ids"),
    ({"ids": ["x"], "action": "priority", "data": {"priority": "P1"}}, "ids"),
    ({"ids": [0], "action": "priority", "data": {"priority": "P1"}}, "ids"),
    ({"ids": [2**63], "action": "priority", "data": {"priority": "P1"}}, "ids"),
    ({"ids": [1], "action": "delete", "data": {}}, "action"),
    ({"ids": [1], "action": "priority", "data": {"priority": "P9"}}, "data"),
    ({"ids": [1], "action": "escalate", "data": {}}, "data"),
    ({"ids": [1], "action": "assign", "data": {"assignee": "nobody"}}, "data"),
    ({"ids": [1], "action": "tag", "data": {"add": ["a,b"]}}, "data"),
    ({"ids": [1], "action": "tag", "data": {}}, "data"),
    ({"ids": [1], "action": "priority", "data": "P1"}, "data"),
    ({"ids": [1], "action": "priority", "data": {"priority": "P1"}, "versions": {"one": 1}}, "versions"),
    ({"ids": 5, "action": "priority", "data": {"priority": "P1"}}, "ids"),
])
def test_bad_input_is_a_400_and_changes_nothing(api_alice, body, field):
    ticket = make_ticket()
    body = {**body, "ids": [ticket.pk] if body["ids"] == [1] else body["ids"]}
    assert_invalid(api_alice.post(URL, body, format="json"), field)
    assert Ticket.objects.get(pk=ticket.pk).version == 1


def test_a_hundred_tickets_are_accepted(api_mona):
    tickets = [make_ticket() for _ in range(100)]
    response = bulk(api_mona, [t.pk for t in tickets], "priority", {"priority": "P2"})
    assert response.status_code == 200 and all(r["ok"] for r in response.json()) and len(response.json()) == 100


def test_queries_grow_by_a_constant_per_ticket(api_alice):
    def count(n):
        ids = [make_ticket().pk for _ in range(n)]
        with CaptureQueriesContext(connection) as queries:
            assert all(r["ok"] for r in bulk(api_alice, ids, "escalate", {"reason": "L2 please"}).json())
        return len(queries)

    one, three, five = count(1), count(3), count(5)
    assert three - one == five - three
    assert (three - one) % 2 == 0


def test_who_may_call_it(anonymous, dana, ticket):
    assert bulk(anonymous, [ticket.pk], "priority", {"priority": "P1"}).status_code == 401
    assert client_for().get(URL).status_code == 401
    assert Ticket.objects.get(pk=ticket.pk).priority == "P3"


def test_only_post(api_alice):
    assert api_alice.get(URL).status_code == 405


def test_the_schema_documents_the_endpoint(api_alice):
    schema = api_alice.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/tickets/bulk/"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"ids", "action", "data", "versions"}
    result = operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"]
    assert set(schema["components"]["schemas"][result.rsplit("/", 1)[1]]["properties"]) == {
        "id", "ok", "version", "error"}
