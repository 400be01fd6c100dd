"""The knowledge base in the REST API."""
import pytest

from knowledge import services
from knowledge.models import SuggestionUse, Visibility
from tests.factories import make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(alice):
    def write(title, **extra):
        return services.article_save(user=alice, data=services.ArticleInput(
            title=title, problem=f"Reported as: {title.lower()}.", solution="Update the **client**.", **extra))
    return [write("VPN disconnects every few minutes", visibility=Visibility.PUBLIC),
            write("Printer jams on tray 2"), write("Old VPN article", archived=True)]


def test_articles_list_search_and_detail(agent, articles):
    listed = agent.get("/api/v1/articles/").json()
    assert [a["title"] for a in listed["results"]] == ["Printer jams on tray 2", "VPN disconnects every few minutes"]
    found = agent.get("/api/v1/articles/", {"q": "vpn disconnects"}).json()
    assert [a["title"] for a in found["results"]] == ["VPN disconnects every few minutes"]
    one = agent.get(f"/api/v1/articles/{articles[0].pk}/").json()
    assert one["solution_html"] == "<p>Update the <strong>client</strong>.</p>\n"
    assert (one["author"], one["visibility"], one["version"]) == ("alice", "public", 1)
    assert agent.get("/api/v1/articles/", {"archived": "true", "visibility": "internal"}).json()["count"] == 2
    assert agent.get("/api/v1/articles/99999999999999999999/").status_code == 404


def test_suggestions_and_their_use(agent, as_alice, articles):
    earlier = make_ticket(subject="VPN disconnects at home", description="The tunnel drops.",
                          requester_email="erin@example.com")
    ticket_services.ticket_take(actor=as_alice, ticket_id=earlier.pk)
    ticket_services.ticket_resolve(actor=as_alice, ticket_id=earlier.pk, affected_item="VPN", steps_before="-",
                                   findings="old client", summary="Updated the client.")
    ticket = make_ticket(subject="VPN keeps disconnecting", description="It drops every few minutes.")
    ticket_services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    found = agent.get(f"/api/v1/tickets/{ticket.pk}/suggestions/").json()
    assert found["tickets"][0]["reference"] == earlier.reference
    assert found["articles"][0]["title"] == "VPN disconnects every few minutes"
    assert 0 < found["tickets"][0]["share"] <= 100

    url = f"/api/v1/tickets/{ticket.pk}/suggestions/use/"
    response = agent.post(url, {"how": "linked", "solved_ticket": earlier.pk}, content_type="application/json")
    assert response.status_code == 201
    assert SuggestionUse.objects.get(pk=response.json()["id"]).solved_ticket == earlier
    assert agent.post(url, {"how": "shouted", "article": articles[0].pk},
                    content_type="application/json").status_code == 400
    assert agent.post(url, {"how": "pasted", "article": articles[2].pk},
                    content_type="application/json").status_code == 404
    assert agent.post(f"/api/v1/tickets/{earlier.pk}/suggestions/use/", {"how": "pasted", "article": articles[0].pk},
                    content_type="application/json").status_code == 409
    assert SuggestionUse.objects.count() == 1


def test_the_knowledge_api_is_for_staff_only(client, articles):
    assert client.get("/api/v1/articles/").status_code in (401, 403)
    assert client.get(f"/api/v1/tickets/{make_ticket().pk}/suggestions/").status_code in (401, 403)
