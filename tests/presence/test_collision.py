"""Two agents with the same ticket page open: the second write, made on a page read before the first, is refused."""
import pytest
from django.test import Client
from django.urls import reverse

from tickets.models import Event, Ticket

pytestmark = pytest.mark.django_db


def page_version(client, ticket) -> int:
    page = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    return int(page.split('name="version" value="')[1].split('"')[0])


def test_the_second_agent_writing_on_a_stale_page_is_refused_and_told_who_changed_it(ticket, alice, mona):
    alice_client, mona_client = Client(), Client()
    alice_client.force_login(alice)
    mona_client.force_login(mona)
    # Both open the page: both hold version 1.
    assert page_version(alice_client, ticket) == page_version(mona_client, ticket) == 1

    first = mona_client.post(reverse("desk:action", args=[ticket.pk, "comment"]),
                             {"version": 1, "body": "I am calling the customer", "internal": "true"})
    assert first.status_code == 302

    second = alice_client.post(reverse("desk:action", args=[ticket.pk, "take"]), {"version": 1})
    page = second.content.decode()
    assert second.status_code == 409
    assert "alert-stale" in page and "Someone else changed this ticket" in page
    assert "Latest change by mona: commented." in page
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.status, fresh.assignee_id, fresh.version) == ("new", None, 2)
    assert not Event.objects.filter(ticket=ticket, kind="taken").exists()
    # The refreshed page carries the new version: submitting again now works.
    assert 'name="version" value="2"' in page
    assert alice_client.post(reverse("desk:action", args=[ticket.pk, "take"]), {"version": 2}).status_code == 302
