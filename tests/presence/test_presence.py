"""The presence heartbeat: who else has a ticket open, who is typing, and who may ask."""
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from presence.models import Presence
from presence.services import presence_purge
from tests.factories import staff_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def beat(client, ticket, typing=False, **kwargs):
    return client.post(reverse("presence:heartbeat", args=[ticket.pk]), {"typing": typing},
                       content_type="application/json", **kwargs)


def test_the_others_are_listed_and_the_caller_is_not(ticket, alice, bob, mona):
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    assert beat(alice_client, ticket).json() == []  # alone on the page
    assert beat(bob_client, ticket).json() == [{"name": "alice", "typing": False}]
    mona.first_name, mona.last_name = "Mona", "Lisa"
    mona.save()
    beat(signed_in(mona), ticket)
    assert beat(alice_client, ticket).json() == [{"name": "bob", "typing": False},
                                                 {"name": "Mona Lisa", "typing": False}]


def test_one_row_per_agent_and_ticket_however_often_the_page_beats(ticket, alice):
    client = signed_in(alice)
    for _ in range(3):
        assert beat(client, ticket).status_code == 200
    assert Presence.objects.filter(ticket=ticket, user=alice).count() == 1


def test_the_typing_flag_is_shown_and_cleared(ticket, alice, bob):
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    beat(alice_client, ticket, typing=True)
    assert beat(bob_client, ticket).json() == [{"name": "alice", "typing": True}]
    beat(alice_client, ticket, typing=False)
    assert beat(bob_client, ticket).json() == [{"name": "alice", "typing": False}]
    # A plain form post works too (the flag as a form field).
    alice_client.post(reverse("presence:heartbeat", args=[ticket.pk]), {"typing": "true"})
    assert beat(bob_client, ticket).json() == [{"name": "alice", "typing": True}]


def test_an_agent_whose_page_stopped_beating_drops_out_after_the_window(ticket, alice, bob):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        beat(signed_in(alice), ticket, typing=True)
    with time_machine.travel(start + timedelta(seconds=19), tick=False):
        assert beat(signed_in(bob), ticket).json() == [{"name": "alice", "typing": True}]
    with time_machine.travel(start + timedelta(seconds=21), tick=False):
        assert beat(signed_in(bob), ticket).json() == []


def test_presence_is_per_ticket(alice, bob):
    from tests.factories import make_ticket

    first, second = make_ticket(), make_ticket()
    beat(signed_in(alice), first)
    assert beat(signed_in(bob), second).json() == []


def test_old_rows_are_purged(ticket, alice, bob, settings):
    settings.PRESENCE_PURGE_ONE_IN = 0  # no purge by the heartbeats themselves until asked below
    long_ago = timezone.now() - timedelta(hours=2)
    with time_machine.travel(long_ago, tick=False):
        beat(signed_in(alice), ticket)
    beat(signed_in(bob), ticket)
    assert Presence.objects.count() == 2
    assert presence_purge() == 1  # alice's row is old, bob's is fresh
    assert list(Presence.objects.values_list("user__username", flat=True)) == ["bob"]
    # A heartbeat purges by itself now and then; with a chance of one in one, every time.
    with time_machine.travel(long_ago, tick=False):
        beat(signed_in(alice), ticket)
    settings.PRESENCE_PURGE_ONE_IN = 1
    beat(signed_in(bob), ticket)
    assert sorted(Presence.objects.values_list("user__username", flat=True)) == ["bob"]


def test_a_heartbeat_costs_the_same_queries_however_many_agents_are_present(ticket, alice, settings):
    settings.PRESENCE_PURGE_ONE_IN = 0  # the occasional purge is one DELETE more; not counted here
    client = signed_in(alice)
    beat(client, ticket)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert beat(client, ticket).status_code == 200
        return queries

    few = count()
    for n in range(12):
        beat(signed_in(staff_user(f"agent{n}", tier="L1")), ticket)
    many = count()
    assert len(many) == len(few)
    # Of those: the session, the user, the user's role, the visibility check, then the presence itself:
    # exactly one upsert and one select.
    presence_queries = [q["sql"] for q in many if "presence_presence" in q["sql"]]
    assert len(presence_queries) == 2
    assert presence_queries[0].startswith("INSERT") and "ON CONFLICT" in presence_queries[0]
    assert presence_queries[1].startswith("SELECT")


def test_only_staff_who_may_see_the_ticket_may_beat(client, ticket, alice):
    url = reverse("presence:heartbeat", args=[ticket.pk])
    anonymous = client.post(url, {"typing": False}, content_type="application/json")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    visitor = get_user_model().objects.create_user("visitor", password="pw")  # signed in, but no staff role
    assert beat(signed_in(visitor), ticket).status_code == 403
    missing = ticket.pk + 1000
    response = signed_in(alice).post(reverse("presence:heartbeat", args=[missing]), {"typing": False},
                                     content_type="application/json")
    assert response.status_code == 404
    assert signed_in(alice).get(url).status_code == 405
    assert not Presence.objects.exists()


def test_csrf_is_required(ticket, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert beat(client, ticket).status_code == 403
    assert not Presence.objects.exists()
    page = client.get(reverse("desk:ticket", args=[ticket.pk]))
    token = page.content.decode().split('data-csrf="')[1].split('"')[0]
    assert beat(client, ticket, headers={"X-CSRFToken": token}).status_code == 200
    assert Presence.objects.filter(user=alice).exists()


@pytest.mark.parametrize("body", ['{"typing": "yes"}', "[true]", "not json", '{"typing": 1}'])
def test_bad_input_is_a_clear_400(ticket, alice, body):
    response = signed_in(alice).post(reverse("presence:heartbeat", args=[ticket.pk]), body,
                                     content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Presence.objects.exists()


def test_the_ticket_page_carries_the_presence_box(ticket, alice):
    page = signed_in(alice).get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert 'id="presence"' in page
    assert f'data-url="{reverse("presence:heartbeat", args=[ticket.pk])}"' in page
    assert "is typing a reply" in page and "is viewing" in page
