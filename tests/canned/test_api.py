"""Canned replies in the REST API: the caller's list, the list filled in for a ticket, and the schema."""
import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.canned.conftest import personal, tier_wide
from tests.factories import make_ticket, staff_user

pytestmark = pytest.mark.django_db

LIST = "/api/v1/canned-replies/"


def ticket_path(pk) -> str:
    return f"/api/v1/tickets/{pk}/canned-replies/"


def test_the_paths_are_the_documented_ones():
    assert reverse("canned-api:reply-list") == LIST and reverse("canned-api:ticket-replies", args=[7]) == ticket_path(7)


def test_an_agent_lists_their_own_and_their_tiers_replies(agent, alice, bob):
    mine = personal(alice, title="Mine", body="Hi {{ requester.name }}", language="en")
    shared = tier_wide("L1", title="Shared")
    personal(bob, title="Bob's")
    tier_wide("L2", title="L2's")
    response = agent.get(LIST)
    assert response.status_code == 200
    assert response.json() == [
        {"id": mine.pk, "title": "Mine", "body": "Hi {{ requester.name }}", "scope": "personal", "owner": "alice",
         "tier": None, "language": "en", "created_at": response.json()[0]["created_at"],
         "updated_at": response.json()[0]["updated_at"]},
        {"id": shared.pk, "title": "Shared", "body": shared.body, "scope": "tier", "owner": None, "tier": "L1",
         "language": "", "created_at": response.json()[1]["created_at"],
         "updated_at": response.json()[1]["updated_at"]},
    ]


def test_a_manager_lists_every_reply(client, mona, alice):
    personal(alice)
    tier_wide("L3")
    client.force_login(mona)
    assert len(client.get(LIST).json()) == 2


def test_a_ticket_list_is_filled_in_and_hostile_data_stays_text(agent, alice):
    ticket = make_ticket(requester_name="{{ agent.email }}<script>alert(1)</script>{% debug %}")
    reply = personal(alice, title="Greeting", body="Dear {{ requester.name }}, re {{ ticket.reference }}")
    response = agent.get(ticket_path(ticket.pk))
    assert response.status_code == 200
    assert response.json() == [{
        "id": reply.pk, "title": "Greeting", "language": "", "scope": "personal",
        "text": f"Dear {{{{ agent.email }}}}<script>alert(1)</script>{{% debug %}}, re {ticket.reference}",
    }]


def test_an_api_token_sees_what_its_user_sees():
    integration = staff_user("monitor", tier="L2")
    token = Token.objects.create(user=integration).key
    tier_wide("L1", title="L1's")
    tier_wide("L2", title="L2's")
    ticket = make_ticket()
    client = Client(headers={"authorization": f"Token {token}"})
    assert [r["title"] for r in client.get(LIST).json()] == ["L2's"]
    assert [r["title"] for r in client.get(ticket_path(ticket.pk)).json()] == ["L2's"]


def test_status_codes(client, django_user_model, alice):
    ticket = make_ticket()
    for path in (LIST, ticket_path(ticket.pk)):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated"
    client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    assert [client.get(path).status_code for path in (LIST, ticket_path(ticket.pk))] == [403, 403]
    client.force_login(alice)
    missing = client.get(ticket_path(ticket.pk + 1000))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.get(ticket_path(2**63)).status_code == 404  # past the id column's range: not found, not 500
    assert client.post(LIST, {}, content_type="application/json").status_code == 405
    assert client.post(ticket_path(ticket.pk), {}, content_type="application/json").status_code == 405


def test_the_schema_documents_both_endpoints(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    listed = schema["paths"]["/api/v1/canned-replies/"]["get"]
    rendered = schema["paths"]["/api/v1/tickets/{id}/canned-replies/"]["get"]
    assert listed["tags"] == rendered["tags"] == ["canned replies"]
    assert set(rendered["responses"]) >= {"200", "401", "403", "404"}
    item = rendered["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"]
    assert set(schema["components"]["schemas"][item.rsplit("/", 1)[1]]["properties"]) == {
        "id", "title", "text", "language", "scope"}
