"""The knowledge base pages: the desk's articles and suggestions panel, and the public help pages."""
import pytest
from django.urls import reverse

from knowledge import services
from knowledge.models import Article, Deflection, Revision, SuggestionUse, Use, Visibility
from tests.factories import CategoryFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def write(user, **overrides) -> Article:
    values = {"title": "VPN disconnects every few minutes", "problem": "The VPN tunnel drops.",
              "solution": "Update the VPN client to **5.2**.", "visibility": Visibility.PUBLIC}
    values.update(overrides)
    return services.article_save(user=user, data=services.ArticleInput(**values))


@pytest.fixture
def earlier_fix(as_alice):
    """A resolved ticket about the VPN dropping, from another requester."""
    ticket = make_ticket(subject="VPN drops every few minutes", description="The VPN tunnel disconnects.",
                         requester_email="erin@example.com")
    ticket_services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    return ticket_services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, affected_item="VPN client",
                                          steps_before="Windows update", findings="Old client version",
                                          summary="Updated the VPN client to 5.2.")


@pytest.fixture
def vpn_ticket(as_alice):
    ticket = make_ticket(subject="VPN keeps disconnecting", description="My VPN disconnects all the time.")
    return ticket_services.ticket_take(actor=as_alice, ticket_id=ticket.pk)


# --- the desk ---------------------------------------------------------------------------------------------


def test_an_agent_writes_edits_and_traces_an_article(agent, alice):
    category = CategoryFactory(name="Network", slug="network")
    response = agent.post(reverse("knowledge:new"), {
        "title": "Wi-Fi drops in room 2", "problem": "The Wi-Fi drops.", "solution": "Use the *5 GHz* network.",
        "category": category.pk, "tags": "wifi, Room 2", "visibility": "internal", "language": "", "version": "",
    })
    article = Article.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("knowledge:article", args=[article.pk])
    page = agent.get(reverse("knowledge:article", args=[article.pk])).content.decode()
    assert "<em>5 GHz</em>" in page and "room 2" in page

    response = agent.post(reverse("knowledge:edit", args=[article.pk]), {
        "title": "Wi-Fi drops in room 2", "problem": "The Wi-Fi drops.", "solution": "Use the *5 GHz* network.\n"
        "Or move closer.", "category": category.pk, "tags": "wifi", "visibility": "public", "language": "en",
        "version": 1,
    })
    assert response.status_code == 302
    history = agent.get(reverse("knowledge:history", args=[article.pk])).content.decode()
    assert "Or move closer." in history and "solution, tags, visibility, language" in history
    assert Revision.objects.filter(article=article).count() == 2


def test_a_stale_edit_shows_the_conflict_and_keeps_the_text(agent, alice):
    article = write(alice)
    services.article_save(user=alice, article_id=article.pk, version=1, data=services.ArticleInput(
        title="Changed meanwhile", problem="p", solution="s"))
    response = agent.post(reverse("knowledge:edit", args=[article.pk]), {
        "title": "My title", "problem": "My problem", "solution": "My solution", "visibility": "public",
        "version": 1})
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed by someone else" in page and "My solution" in page
    article.refresh_from_db()
    assert article.title == "Changed meanwhile"


def test_an_invalid_article_is_refused_with_the_fields_marked(agent):
    response = agent.post(reverse("knowledge:new"), {"title": "", "problem": "", "solution": "x",
                                                     "visibility": "internal"})
    assert response.status_code == 400
    assert "field-error" in response.content.decode()
    assert not Article.objects.exists()


def test_the_list_searches_and_hides_archived_articles(agent, alice):
    write(alice)
    write(alice, title="Printer jams on tray 2", problem="Paper jams.", solution="Clean the roller.")
    write(alice, title="Old printer article", problem="Printer jams", solution="x", archived=True)
    page = agent.get(reverse("knowledge:list")).content.decode()
    assert "VPN disconnects" in page and "Printer jams on tray 2" in page and "Old printer article" not in page
    found = agent.get(reverse("knowledge:list"), {"q": "printer jams"}).content.decode()
    assert "Printer jams on tray 2" in found and "VPN disconnects" not in found
    archived = agent.get(reverse("knowledge:list"), {"archived": "1"}).content.decode()
    assert "Old printer article" in archived


def test_customers_cannot_open_the_desk_knowledge_base(client, alice):
    article = write(alice, visibility=Visibility.INTERNAL)
    for url in (reverse("knowledge:list"), reverse("knowledge:article", args=[article.pk]),
                reverse("knowledge:new")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_suggestions_panel_shows_earlier_fixes_and_articles(agent, alice, earlier_fix, vpn_ticket):
    article = write(alice, visibility=Visibility.INTERNAL)
    page = agent.get(reverse("knowledge:suggestions", args=[vpn_ticket.pk])).content.decode()
    assert earlier_fix.reference in page and "Updated the VPN client to 5.2." in page
    assert article.title in page and "Link to this ticket" in page
    ticket_page = agent.get(reverse("desk:ticket", args=[vpn_ticket.pk])).content.decode()
    assert reverse("knowledge:suggestions", args=[vpn_ticket.pk]) in ticket_page


def test_an_agent_of_another_tier_sees_suggestions_but_no_use_buttons(client, bob, earlier_fix, vpn_ticket):
    client.force_login(bob)
    page = client.get(reverse("knowledge:suggestions", args=[vpn_ticket.pk])).content.decode()
    assert earlier_fix.reference in page and "Link to this ticket" not in page


def test_pasting_from_the_script_answers_204(agent, alice, vpn_ticket):
    article = write(alice)
    response = agent.post(reverse("knowledge:use", args=[vpn_ticket.pk]),
                          {"article": article.pk, "how": "pasted"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 204
    assert SuggestionUse.objects.get().how == Use.PASTED


def test_pasting_without_the_script_fills_the_reply_box(agent, alice, earlier_fix, vpn_ticket):
    response = agent.post(reverse("knowledge:use", args=[vpn_ticket.pk]),
                          {"solved_ticket": earlier_fix.pk, "how": "pasted"})
    assert response.status_code == 302
    page = agent.get(response["Location"]).content.decode()
    assert ">Updated the VPN client to 5.2.</textarea>" in page
    # Only once: the draft is not pasted again on the next visit.
    again = agent.get(reverse("desk:ticket", args=[vpn_ticket.pk])).content.decode()
    assert ">Updated the VPN client to 5.2.</textarea>" not in again


def test_linking_shows_on_the_timeline(agent, earlier_fix, vpn_ticket):
    agent.post(reverse("knowledge:use", args=[vpn_ticket.pk]), {"solved_ticket": earlier_fix.pk, "how": "linked"})
    page = agent.get(reverse("desk:ticket", args=[vpn_ticket.pk])).content.decode()
    assert 'data-kind="suggestion_used"' in page and earlier_fix.reference in page


def test_a_refused_use_is_a_clear_error(agent, alice, vpn_ticket):
    response = agent.post(reverse("knowledge:use", args=[vpn_ticket.pk]), {"article": 999, "how": "pasted"},
                          HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 404 and response.content.decode() == "No such article."
    response = agent.post(reverse("knowledge:use", args=[vpn_ticket.pk]), {"article": "x", "how": "linked"},
                          HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 400
    assert not SuggestionUse.objects.exists()


def test_publishing_a_resolved_ticket_in_one_click(agent, earlier_fix):
    page = agent.get(reverse("desk:ticket", args=[earlier_fix.pk])).content.decode()
    assert 'id="publish-form"' in page
    response = agent.post(reverse("knowledge:publish", args=[earlier_fix.pk]))
    article = Article.objects.get(source_ticket=earlier_fix)
    assert response["Location"] == reverse("knowledge:article", args=[article.pk])
    assert article.solution == "Updated the VPN client to 5.2."


# --- the public help pages ----------------------------------------------------------------------------------


def test_the_help_pages_show_public_articles_only(client, alice):
    category = CategoryFactory(name="Network", slug="network")
    public = write(alice, category=category)
    internal = write(alice, title="VPN admin console", visibility=Visibility.INTERNAL)
    russian = write(alice, title="VPN отключается", language="ru")
    archived = write(alice, title="Old VPN", archived=True)
    index = client.get(reverse("kb:index")).content.decode()
    assert public.title in index and "Network" in index
    for hidden in (internal, russian, archived):
        assert hidden.title not in index
        assert client.get(reverse("kb:article", args=[hidden.pk])).status_code == 404
    page = client.get(reverse("kb:article", args=[public.pk])).content.decode()
    assert "<strong>5.2</strong>" in page
    found = client.get(reverse("kb:index"), {"q": "vpn disconnects"}).content.decode()
    assert public.title in found and internal.title not in found
    by_category = client.get(reverse("kb:index"), {"category": "network"}).content.decode()
    assert public.title in by_category
    client.post(reverse("desk:language"), {"language": "ru", "next": "/"})
    assert russian.title in client.get(reverse("kb:index")).content.decode()


def test_the_report_form_offers_matching_articles(client, alice):
    public = write(alice)
    write(alice, title="VPN admin console", visibility=Visibility.INTERNAL)
    assert 'id="deflect"' in client.get(reverse("portal:report")).content.decode()
    offered = client.get(reverse("kb:suggest"), {"q": "my vpn disconnects"}).content.decode()
    assert public.title in offered and "VPN admin console" not in offered
    assert client.get(reverse("kb:suggest"), {"q": "vp"}).content.decode().strip() == ""


def test_this_solved_it_counts_a_deflected_contact(client, alice, settings):
    settings.KNOWLEDGE_DEFLECT_RATE = "2/h"
    public = write(alice)
    response = client.post(reverse("kb:solved", args=[public.pk]), {"q": "my vpn disconnects"})
    assert response.status_code == 200 and 'id="deflected"' in response.content.decode()
    deflection = Deflection.objects.get()
    assert (deflection.article, deflection.query) == (public, "my vpn disconnects")
    assert not Ticket.objects.exists()
    client.post(reverse("kb:solved", args=[public.pk]))
    client.post(reverse("kb:solved", args=[public.pk]))
    assert Deflection.objects.count() == 2  # over the rate: thanked, not counted
    internal = write(alice, title="Internal", visibility=Visibility.INTERNAL)
    assert client.post(reverse("kb:solved", args=[internal.pk])).status_code == 404
    assert client.get(reverse("kb:solved", args=[public.pk])).status_code == 405
