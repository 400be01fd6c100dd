"""Free tags: normalised names, the `ticket_tag` service and its event, the autocomplete, the filter in the desk's
queues and the API (an EXISTS, no DISTINCT, no N+1), tags in the API's ticket shape, and the dashboard's
"by tag" breakdown."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.tags import tag_breakdown
from tests.api.conftest import client_for
from tests.factories import make_ticket
from tickets import services, tags
from tickets.exceptions import TicketError
from tickets.models import Event, Tag, Ticket
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db


def names(ticket) -> list[str]:
    return sorted(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


# --- names ---------------------------------------------------------------------------------------------------


def test_names_are_trimmed_lower_cased_and_collapsed():
    assert tags.normalise("  VPN  Client ") == "vpn client"
    assert tags.clean_names(["Printer", " printer", "PRINTER ", "", "  "], field="add") == ["printer"]


@pytest.mark.parametrize("bad", ["a,b", "x" * 41, "nul\x00byte"])
def test_a_name_with_a_comma_or_over_40_characters_is_refused(ticket, as_alice, bad):
    with pytest.raises(TicketError) as refused:
        services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=[bad])
    assert refused.value.code == TicketError.INVALID and refused.value.fields == ["add"]
    assert not Tag.objects.exists() and names(ticket) == []


def test_40_characters_are_fine(ticket, as_alice):
    services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["y" * 40])
    assert names(ticket) == ["y" * 40]


def test_one_tag_whatever_the_spelling(as_alice):
    first, second = make_ticket(), make_ticket(requester_email="erin@example.com")
    services.ticket_tag(actor=as_alice, ticket_id=first.pk, add=["VPN"])
    services.ticket_tag(actor=as_alice, ticket_id=second.pk, add=[" vpn "])
    assert list(Tag.objects.values_list("name", flat=True)) == ["vpn"]
    assert names(first) == names(second) == ["vpn"]


# --- the service -----------------------------------------------------------------------------------------------


def test_tagging_records_what_changed_and_bumps_the_version(ticket, as_alice):
    services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["Printer", "floor-3"], version=1)
    after = services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["toner"], remove=["FLOOR-3"], version=2)
    assert after.version == 3 and names(ticket) == ["printer", "toner"]
    events = list(Event.objects.filter(ticket=ticket, kind=EventKind.TAGGED).values_list("data", flat=True))
    assert events == [{"added": ["printer", "floor-3"], "removed": []}, {"added": ["toner"], "removed": ["floor-3"]}]


def test_nothing_to_change_leaves_the_ticket_alone(ticket, as_alice):
    services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["printer"])
    same = services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["Printer"], remove=["absent"])
    assert same.version == 2 and Event.objects.filter(ticket=ticket, kind=EventKind.TAGGED).count() == 1


def test_refusals(ticket, as_alice, as_bob):
    cases = [
        ({"actor": as_alice, "add": []}, TicketError.INVALID),
        ({"actor": as_alice, "add": ["a"], "remove": ["A"]}, TicketError.INVALID),
        ({"actor": as_alice, "add": ["a"], "version": 7}, TicketError.STALE_VERSION),
        ({"actor": as_bob, "add": ["a"]}, TicketError.FORBIDDEN),  # an L2 agent on an L1 ticket
        ({"actor": as_alice, "add": [f"t{n}" for n in range(tags.TAGS_PER_TICKET + 1)]}, TicketError.INVALID),
    ]
    for kwargs, code in cases:
        with pytest.raises(TicketError) as refused:
            services.ticket_tag(ticket_id=ticket.pk, **kwargs)
        assert refused.value.code == code, kwargs
    assert names(ticket) == [] and Ticket.objects.get(pk=ticket.pk).version == 1


def test_a_closed_ticket_cannot_be_tagged(ticket, as_alice, as_mona):
    other = make_ticket()
    services.ticket_merge(actor=as_mona, ticket_id=ticket.pk, into_id=other.pk)
    with pytest.raises(TicketError) as refused:
        services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["late"])
    assert refused.value.code == TicketError.ILLEGAL_TRANSITION


# --- autocomplete ------------------------------------------------------------------------------------------------


def test_autocomplete_gives_names_by_prefix_most_used_first(client, alice, as_alice):
    tickets = [make_ticket(requester_email=f"u{n}@example.com") for n in range(3)]
    for ticket in tickets:
        services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=["printer"])
    services.ticket_tag(actor=as_alice, ticket_id=tickets[0].pk, add=["print-server", "network"])
    services.ticket_tag(actor=as_alice, ticket_id=tickets[1].pk, add=["print-server"])
    services.ticket_tag(actor=as_alice, ticket_id=tickets[2].pk, add=["printing"])
    client.force_login(alice)
    answer = client.get(reverse("desk:tags"), {"q": " PRINT"})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert answer.json() == {"results": ["printer", "print-server", "printing"]}
    assert client.get(reverse("desk:tags"), {"q": "net"}).json() == {"results": ["network"]}
    assert client.get(reverse("desk:tags"), {"q": "%"}).json() == {"results": []}
    assert client.get(reverse("desk:tags")).json()["results"][0] == "printer"


def test_autocomplete_is_for_staff_only(client, db):
    assert client.get(reverse("desk:tags"), {"q": "p"}).status_code == 302  # to sign-in


# --- filters ---------------------------------------------------------------------------------------------------


def tagged_world(as_alice):
    vpn, printer, both = (make_ticket(requester_email=f"f{n}@example.com") for n in range(3))
    make_ticket(requester_email="untagged@example.com")
    services.ticket_tag(actor=as_alice, ticket_id=vpn.pk, add=["vpn"])
    services.ticket_tag(actor=as_alice, ticket_id=printer.pk, add=["printer"])
    services.ticket_tag(actor=as_alice, ticket_id=both.pk, add=["vpn", "printer"])
    return vpn, printer, both


def test_the_api_filters_by_tag_without_distinct(alice, as_alice):
    vpn, _printer, both = tagged_world(as_alice)
    api = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/v1/tickets/", {"tag": "VPN"}).json()
    assert [t["id"] for t in body["results"]] == [both.pk, vpn.pk]
    assert body["results"][0]["tags"] == ["printer", "vpn"]
    listing = [q["sql"] for q in queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert listing and all("DISTINCT" not in sql for sql in listing)
    assert any("EXISTS" in sql for sql in listing)
    assert api.get("/api/v1/tickets/", {"tag": "nothing"}).json()["results"] == []


def test_the_api_list_with_tags_needs_the_same_queries_for_3_or_23_tickets(alice, as_alice):
    api = client_for(alice)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/tickets/").status_code == 200
        return len(queries)

    for n in range(3):
        services.ticket_tag(actor=as_alice, ticket_id=make_ticket().pk, add=[f"a{n}", "b"])
    few = count()
    for n in range(20):
        services.ticket_tag(actor=as_alice, ticket_id=make_ticket().pk, add=[f"c{n}", "d", "e"])
    assert count() == few


def test_the_desk_queue_filters_by_tag(client, alice, as_alice):
    _vpn, printer, both = tagged_world(as_alice)
    client.force_login(alice)
    page = client.get(reverse("desk:queue"), {"queue": "all", "tag": "printer"})
    assert page.status_code == 200
    shown = [int(part.split('"')[0]) for part in page.content.decode().split('data-ticket-id="')[1:]]
    assert sorted(shown) == sorted([printer.pk, both.pk])
    assert 'name="tag"' in page.content.decode() and 'value="printer"' in page.content.decode()


# --- the API's tag endpoint and the desk's form ------------------------------------------------------------------


def test_the_api_adds_and_removes_tags(alice, ticket):
    api = client_for(alice)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/tags/", {"add": ["Network", "wifi"], "version": 1},
                        format="json")
    assert response.status_code == 200 and response.json()["tags"] == ["network", "wifi"]
    response = api.post(f"/api/v1/tickets/{ticket.pk}/tags/", {"remove": ["wifi"], "version": 2}, format="json")
    assert response.json()["tags"] == ["network"] and response.json()["version"] == 3
    stale = api.post(f"/api/v1/tickets/{ticket.pk}/tags/", {"add": ["x"], "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    bad = api.post(f"/api/v1/tickets/{ticket.pk}/tags/", {"add": ["a,b"]}, format="json")
    assert bad.status_code == 400 and "comma" in bad.json()["detail"]
    wrong = api.post(f"/api/v1/tickets/{ticket.pk}/tags/", {"add": "not-a-list"}, format="json")
    assert wrong.status_code == 400


def test_the_ticket_page_shows_and_changes_tags(client, alice, ticket):
    client.force_login(alice)
    page = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert 'id="tag-form"' in page and 'data-suggest-url="/desk/tags/"' in page and "js/tags.js" in page
    saved = client.post(reverse("desk:tag", args=[ticket.pk]), {"add": "Printer, floor 3,", "version": 1})
    assert saved.status_code == 302 and names(ticket) == ["floor 3", "printer"]
    client.post(reverse("desk:tag", args=[ticket.pk]), {"remove": ["floor 3"], "version": 2})
    assert names(ticket) == ["printer"]
    page = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert 'data-tag="printer"' in page and "tag-added" in page and "tag-removed" in page
    refused = client.post(reverse("desk:tag", args=[ticket.pk]), {"add": "x" * 41, "version": 3})
    assert refused.status_code == 400 and "at most 40" in refused.content.decode()


# --- the dashboard -------------------------------------------------------------------------------------------


def test_by_tag_breakdown_counts_created_resolved_and_the_median_time_to_resolve(client, mona, as_alice):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def ticket_at(moment, add, resolve_after=None):
        with time_machine.travel(moment, tick=False):
            ticket = make_ticket(requester_email=f"t{moment.timestamp()}@example.com")
            services.ticket_tag(actor=as_alice, ticket_id=ticket.pk, add=add)
        if resolve_after is not None:
            with time_machine.travel(moment + resolve_after, tick=False):
                services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
                services.ticket_resolve(actor=as_alice, ticket_id=ticket.pk, summary="ok", affected_item="a",
                                        steps_before="b", findings="c")
        return ticket

    ticket_at(start, ["vpn"], timedelta(hours=1))
    ticket_at(start + timedelta(hours=1), ["vpn", "printer"], timedelta(hours=3))
    ticket_at(start + timedelta(hours=2), ["vpn"], timedelta(hours=8))
    ticket_at(start + timedelta(hours=3), ["printer"])  # still open
    ticket_at(start - timedelta(days=3), ["vpn"], timedelta(days=3, hours=4))  # created before, resolved within
    rows = {row["key"]: row for row in tag_breakdown(start=start, end=start + timedelta(days=1))}
    assert rows["vpn"] == {"key": "vpn", "created": 3, "resolved": 4, "ttr_median": 5.5 * 3600}
    assert rows["printer"] == {"key": "printer", "created": 2, "resolved": 1, "ttr_median": 3 * 3600}
    assert list(rows) == ["vpn", "printer"]  # the busiest first

    client.force_login(mona)
    with time_machine.travel(start + timedelta(days=2), tick=False):
        page = client.get(reverse("dashboard:index"), {"period": "custom", "from": "2026-03-02",
                                                        "to": "2026-03-02"}).content.decode()
    section = page.split('id="by_tag"')[1].split("</section>")[0]
    assert 'data-key="vpn"' in section and "tag=vpn" in section and "queue=all" in section
    vpn_row = section.split('data-key="vpn"')[1].split("</tr>")[0]
    assert '<td class="num" data-field="created">3</td>' in vpn_row
    assert '<td class="num" data-field="resolved">4</td>' in vpn_row


def test_by_tag_breakdown_takes_two_queries_for_any_number_of_tags(as_alice):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def count():
        with CaptureQueriesContext(connection) as queries:
            tag_breakdown(start=start, end=start + timedelta(days=1))
        return len(queries)

    with time_machine.travel(start + timedelta(hours=1), tick=False):
        for n in range(2):
            services.ticket_tag(actor=as_alice, ticket_id=make_ticket().pk, add=[f"x{n}"])
        few = count()
        for n in range(20):
            services.ticket_tag(actor=as_alice, ticket_id=make_ticket().pk, add=[f"y{n}", "z"])
        assert count() == few == 2
