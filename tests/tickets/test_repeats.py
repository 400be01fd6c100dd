"""Repeat contacts: a requester's new ticket that is textually like one of their recent tickets is linked to
it whatever the category, with the similarity kept for the agent, who can unlink it."""
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import CategoryFactory, make_ticket
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Event, Ticket
from tickets.similarity import key_words, similarity
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db


def repeat_event(ticket: Ticket) -> Event:
    return Event.objects.get(ticket=ticket, kind=EventKind.REPEAT_LINKED)


def test_similar_text_links_a_repeat_across_categories():
    first = make_ticket(subject="Outlook keeps asking for my password",
                        description="Every few minutes Outlook shows the password prompt again.",
                        category=CategoryFactory(name="E-mail", slug="e-mail"))
    second = make_ticket(subject="Password prompt in Outlook again",
                         description="Outlook asks for the password again and again.",
                         category=CategoryFactory(name="Access", slug="access"))
    assert second.repeat_of == first
    data = repeat_event(second).data
    assert data["basis"] == "text" and data["similarity"] >= 0.5 and data["reference"] == first.reference


def test_the_most_similar_recent_ticket_wins_over_the_latest():
    vpn = make_ticket(subject="VPN disconnects every hour", description="The VPN client drops the tunnel.")
    make_ticket(subject="New monitor for the office", description="Please order a second monitor.")
    again = make_ticket(subject="VPN tunnel disconnects", description="The VPN drops again every hour.")
    assert again.repeat_of == vpn


def test_unlike_text_in_the_same_category_still_links_by_category():
    hardware = CategoryFactory(name="Hardware", slug="hardware")
    mouse = make_ticket(subject="Mouse is broken", description="The left button does not click.", category=hardware)
    chair = make_ticket(subject="Chair wobbles", description="One wheel came off.", category=hardware)
    assert chair.repeat_of == mouse
    assert repeat_event(chair).data["basis"] == "category"


def test_unlike_text_in_another_category_is_no_repeat():
    make_ticket(subject="Mouse is broken", description="The left button does not click.",
                category=CategoryFactory(name="Hardware", slug="hardware"))
    other = make_ticket(subject="Licence for Visio", description="I need a Visio licence for a project.",
                        category=CategoryFactory(name="Software", slug="software"))
    assert other.repeat_of is None
    assert not Event.objects.filter(ticket=other, kind=EventKind.REPEAT_LINKED).exists()


def test_another_requesters_similar_ticket_is_no_repeat():
    make_ticket(subject="VPN disconnects every hour", description="The VPN drops.", requester_email="a@example.com")
    other = make_ticket(subject="VPN disconnects every hour", description="The VPN drops.",
                        requester_email="b@example.com")
    assert other.repeat_of is None


def test_a_similar_ticket_outside_the_window_is_no_repeat(settings):
    with time_machine.travel(timezone.now() - timedelta(days=settings.REPEAT_WINDOW_DAYS + 1)):
        make_ticket(subject="VPN disconnects every hour", description="The VPN drops.")
    assert make_ticket(subject="VPN disconnects every hour", description="The VPN drops.").repeat_of is None


def test_the_threshold_is_a_setting(settings):
    make_ticket(subject="Outlook crashes when opening attachments", description="Outlook closes itself.")
    settings.REPEAT_SIMILARITY = 0.99
    assert make_ticket(subject="Outlook crashes on start", description="It closes at once.").repeat_of is None


def test_the_agent_unlinks_a_wrong_repeat(as_alice, alice):
    first = make_ticket(subject="VPN disconnects every hour", description="The VPN drops.")
    second = make_ticket(subject="VPN disconnects hourly", description="The VPN drops again.")
    version = second.version
    services.ticket_unlink_repeat(actor=as_alice, ticket_id=second.pk, version=version)
    second.refresh_from_db()
    assert second.repeat_of is None and second.version == version + 1
    event = Event.objects.get(ticket=second, kind=EventKind.REPEAT_UNLINKED)
    assert event.actor == alice and event.data == {"repeat_of": first.pk, "reference": first.reference}
    with pytest.raises(TicketError) as refused:
        services.ticket_unlink_repeat(actor=as_alice, ticket_id=second.pk)
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION


def test_unlinking_through_the_api_and_the_desk(client, alice):
    make_ticket(subject="VPN disconnects every hour", description="The VPN drops.")
    second = make_ticket(subject="VPN disconnects hourly", description="The VPN drops again.")
    third = make_ticket(subject="VPN disconnects each hour", description="The VPN drops again and again.")
    client.force_login(alice)
    page = client.get(reverse("desk:ticket", args=[second.pk])).content.decode()
    assert 'data-field="similarity"' in page and "unlink_repeat" in page

    response = client.post(reverse("desk:action", args=[second.pk, "unlink_repeat"]), {"version": second.version})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.repeat_of is None

    url = f"/api/v1/tickets/{third.pk}/unlink-repeat/"
    assert client.post(url, {"version": third.version + 5}, content_type="application/json").status_code == 409
    response = client.post(url, {"version": third.version}, content_type="application/json")
    assert response.status_code == 200 and response.json()["repeat_of"] is None
    assert client.post(url, {}, content_type="application/json").status_code == 409


def test_key_words_and_similarity():
    assert key_words("The printer on floor 3 jams", "Paper jams in the printer tray, the tray is empty") == [
        "printer", "floor", "jams", "tray", "paper", "empty"]
    assert similarity("Принтер не печатает", "принтеры не печатают") > 0.9
    assert similarity("VPN drops", "Chair wobbles") == 0
    assert similarity("", "anything") == 0
