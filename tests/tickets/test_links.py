"""Related tickets: one unordered link per pair, seen from both sides, with `linked`/`unlinked` events on both; in the
service, the API and the ticket page."""
import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.api.conftest import client_for
from tests.factories import make_ticket
from tickets import services
from tickets.exceptions import TicketError
from tickets.merge import linked_tickets
from tickets.models import Event, Ticket, TicketLink
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def two():
    return (make_ticket(subject="Mail server slow"),
            make_ticket(subject="Outlook hangs", requester_email="e@example.com"))


def test_a_link_shows_from_both_sides_with_an_event_on_each(two, as_alice):
    first, second = two
    link = services.ticket_link(actor=as_alice, ticket_id=second.pk, other_id=first.reference, version=1)
    assert (link.ticket_a_id, link.ticket_b_id, link.kind) == (first.pk, second.pk, "related")
    assert [t.pk for t in linked_tickets(first.pk)] == [second.pk]
    assert [t.pk for t in linked_tickets(second.pk)] == [first.pk]
    events = {e.ticket_id: e for e in Event.objects.filter(kind=EventKind.LINKED)}
    assert events[second.pk].data == {"ticket": first.pk, "reference": first.reference}
    assert events[first.pk].data == {"ticket": second.pk, "reference": second.reference}
    # The acting ticket's version moves; the other's fields did not change, nor does its version.
    assert Ticket.objects.get(pk=second.pk).version == 2 and Ticket.objects.get(pk=first.pk).version == 1


def test_the_pair_is_unordered_and_unique(two, as_alice):
    first, second = two
    services.ticket_link(actor=as_alice, ticket_id=first.pk, other_id=second.pk)
    with pytest.raises(TicketError) as refused:
        services.ticket_link(actor=as_alice, ticket_id=second.pk, other_id=first.pk)
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION and "already linked" in str(refused.value)
    assert TicketLink.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():  # the database keeps the lower id first
        TicketLink.objects.create(ticket_a_id=second.pk, ticket_b_id=first.pk)


def test_unlinking_from_either_side(two, as_alice):
    first, second = two
    services.ticket_link(actor=as_alice, ticket_id=first.pk, other_id=second.pk)
    services.ticket_unlink(actor=as_alice, ticket_id=second.pk, other_id=first.pk)
    assert not TicketLink.objects.exists() and linked_tickets(first.pk) == []
    assert sorted(Event.objects.filter(kind=EventKind.UNLINKED).values_list("ticket_id", flat=True)) == \
        sorted([first.pk, second.pk])
    with pytest.raises(TicketError) as refused:
        services.ticket_unlink(actor=as_alice, ticket_id=second.pk, other_id=first.pk)
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION


def test_refusals(two, as_alice, as_bob):
    first, second = two
    for kwargs, code in [
        ({"actor": as_alice, "ticket_id": first.pk, "other_id": first.pk}, TicketError.ILLEGAL_TRANSITION),
        ({"actor": as_alice, "ticket_id": first.pk, "other_id": 10**9}, TicketError.INVALID),
        ({"actor": as_alice, "ticket_id": first.pk, "other_id": "HD-x"}, TicketError.INVALID),
        ({"actor": as_alice, "ticket_id": first.pk, "other_id": second.pk, "version": 5}, TicketError.STALE_VERSION),
        ({"actor": as_bob, "ticket_id": first.pk, "other_id": second.pk}, TicketError.FORBIDDEN),
    ]:
        with pytest.raises(TicketError) as refused:
            services.ticket_link(**kwargs)
        assert refused.value.code == code, kwargs
    assert not TicketLink.objects.exists()


def test_an_open_ticket_links_to_a_closed_one(two, as_alice):
    first, second = two
    services.ticket_merge(actor=as_alice, ticket_id=make_ticket(subject="dup").pk, into_id=first.pk)
    closed = Ticket.objects.get(subject="dup")
    services.ticket_link(actor=as_alice, ticket_id=second.pk, other_id=closed.pk)
    assert [t.pk for t in linked_tickets(closed.pk)] == [second.pk]
    with pytest.raises(TicketError):  # but nothing starts from a closed ticket
        services.ticket_link(actor=as_alice, ticket_id=closed.pk, other_id=first.pk)


def test_the_api_links_lists_and_unlinks(two, alice):
    first, second = two
    api = client_for(alice)
    created = api.post(f"/api/v1/tickets/{first.pk}/links/", {"ticket": second.reference, "version": 1},
                       format="json")
    assert created.status_code == 201
    assert [(row["id"], row["reference"], row["kind"]) for row in created.json()] == [
        (second.pk, second.reference, "related")]
    assert [row["id"] for row in api.get(f"/api/v1/tickets/{second.pk}/links/").json()] == [first.pk]
    again = api.post(f"/api/v1/tickets/{second.pk}/links/", {"ticket": first.pk}, format="json")
    assert again.status_code == 409 and "already linked" in again.json()["detail"]
    assert api.post(f"/api/v1/tickets/{first.pk}/links/", {}, format="json").status_code == 400
    stale = api.delete(f"/api/v1/tickets/{second.pk}/links/{first.pk}/?version=9")
    assert stale.status_code == 409
    assert api.delete(f"/api/v1/tickets/{second.pk}/links/{first.pk}/").status_code == 204
    missing = api.delete(f"/api/v1/tickets/{second.pk}/links/{first.pk}/")
    assert missing.status_code == 409 and "not linked" in missing.json()["detail"]


def test_the_ticket_page_shows_links_and_links_by_reference(two, alice):
    first, second = two
    desk = client_for(alice, token=False)
    done = desk.post(reverse("desk:link", args=[first.pk]), {"ticket": second.reference, "version": 1})
    assert done.status_code == 302
    page = desk.get(reverse("desk:ticket", args=[second.pk])).content.decode()
    links = page.split('id="links"')[1].split("</ul>")[0]
    assert first.reference in links and reverse("desk:unlink", args=[second.pk, first.pk]) in links
    refused = desk.post(reverse("desk:link", args=[first.pk]), {"ticket": "nope", "version": 2})
    assert refused.status_code == 400 and "HD-000123" in refused.content.decode()
    unlinked = desk.post(reverse("desk:unlink", args=[second.pk, first.pk]), {"version": 1})  # its own version
    assert unlinked.status_code == 302 and not TicketLink.objects.exists()
