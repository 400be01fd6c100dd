"""Bulk actions from a desk queue: each ticket through its service, one result each, the selection kept."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_ticket
from tickets import services
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tiers.models import Tier

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_bulk(client, tickets, action, versions=None, **fields):
    data = {"ids": [t.pk for t in tickets], "action": action, "next": "/desk/?queue=all", **fields}
    for ticket in tickets:
        data[f"version-{ticket.pk}"] = (versions or {}).get(ticket.pk, ticket.version)
    return client.post(reverse("desk:bulk"), data)


def footprint(ticket):
    """Everything a change of the ticket would move."""
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (fresh.version, fresh.status, fresh.tier_id, fresh.assignee_id, fresh.priority,
            sorted(fresh.tags.values_list("name", flat=True)), Event.objects.filter(ticket=ticket).count())


def checked_ids(page: str) -> set[int]:
    ids = set()
    for part in page.split('name="ids" value="')[1:]:
        value, rest = part.split('"', 1)
        if rest.lstrip().split(">", 1)[0].rstrip().endswith("checked"):
            ids.add(int(value))
    return ids


def test_escalate_with_mixed_results_shows_each_ticket_and_keeps_the_selection(mona, alice, tiers):
    as_alice = Actor.of_user(alice)
    fine = make_ticket(subject="Printer jams")
    top = make_ticket(subject="Core switch down", tier=tiers["L3"])
    stale = make_ticket(subject="VPN drops")
    seen = stale.version
    services.comment_add(actor=as_alice, ticket_id=stale.pk, body="Asked for logs", internal=True)
    top_before, stale_before = footprint(top), footprint(stale)

    client = signed_in(mona)
    response = post_bulk(client, [fine, top, stale], "escalate", versions={stale.pk: seen},
                         reason="Needs the network team")
    assert response.status_code == 302 and response["Location"] == "/desk/?queue=all"

    fine.refresh_from_db()
    assert (fine.tier.code, fine.status) == ("L2", "new")
    escalated = Event.objects.get(ticket=fine, kind="escalated")
    assert (escalated.reason, escalated.actor, escalated.actor_role) == ("Needs the network team", mona, "manager")
    # The refused tickets are exactly as they were: no write, no event.
    assert footprint(top) == top_before
    assert footprint(stale) == stale_before

    page = client.get(response["Location"]).content.decode()
    results = page.split('id="bulk-results"')[1].split("</section>")[0]
    assert "Done: 1. Refused: 2." in results
    assert f'data-ticket-id="{fine.pk}" class="bulk-done"' in results
    assert f'data-ticket-id="{top.pk}" class="bulk-refused"' in results
    assert "L3 is the highest tier; the ticket cannot be escalated further." in results
    assert f'data-ticket-id="{stale.pk}" class="bulk-refused"' in results
    assert "This ticket was changed by someone else" in results
    assert checked_ids(page) == {fine.pk, top.pk, stale.pk}
    # Shown once, like a message: the next view of the queue has no results and no ticks.
    again = client.get("/desk/?queue=all").content.decode()
    assert 'id="bulk-results"' not in again and checked_ids(again) == set()


def test_assign_is_refused_for_tickets_of_a_tier_the_assignee_cannot_work_on(alice, tiers):
    l1_a, l1_b = make_ticket(), make_ticket()
    l2 = make_ticket(tier=tiers["L2"])
    l2_before = footprint(l2)
    client = signed_in(alice)
    post_bulk(client, [l1_a, l2, l1_b], "assign", assignee="alice")
    assert [Ticket.objects.get(pk=t.pk).assignee for t in (l1_a, l1_b)] == [alice, alice]
    assert Event.objects.filter(kind="assigned", ticket__in=[l1_a, l1_b]).count() == 2
    assert footprint(l2) == l2_before
    page = client.get("/desk/?queue=all").content.decode()
    assert "Only agents of tier L2 or a manager can change this ticket." in page


def test_change_priority_records_an_edit_per_ticket(alice):
    a, b = make_ticket(priority="P3"), make_ticket(priority="P4")
    post_bulk(signed_in(alice), [a, b], "priority", priority="P1")
    for ticket, was in ((a, "P3"), (b, "P4")):
        assert Ticket.objects.get(pk=ticket.pk).priority == "P1"
        assert Event.objects.get(ticket=ticket, kind="updated").data["priority"] == {"from": was, "to": "P1"}


def test_add_tags_to_each_ticket(alice):
    a, b = make_ticket(), make_ticket()
    post_bulk(signed_in(alice), [a, b], "tag", tags="VPN, printer ")
    for ticket in (a, b):
        assert sorted(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == ["printer", "vpn"]
        assert Event.objects.get(ticket=ticket, kind="tagged").data["added"] == ["vpn", "printer"]


def test_an_unknown_ticket_is_refused_without_failing_the_others(alice):
    ticket = make_ticket()
    client = signed_in(alice)
    missing = ticket.pk + 1000
    response = client.post(reverse("desk:bulk"), {"ids": [missing, ticket.pk], "action": "priority",
                                                  "priority": "P2"})
    assert response.status_code == 302 and response["Location"] == "/desk/"
    assert Ticket.objects.get(pk=ticket.pk).priority == "P2"
    page = client.get("/desk/").content.decode()
    assert f'data-ticket-id="{missing}" class="bulk-refused"' in page and "No such ticket." in page


@pytest.mark.parametrize(("fields", "message"), [
    ({"action": "escalate", "reason": ""}, "This field may not be blank."),
    ({"action": "explode"}, "Unknown action."),
    ({"action": "priority", "priority": "P9"}, "is not a valid choice."),
    ({"action": "assign", "assignee": "nobody"}, "does not exist."),
    ({"action": "tag", "tags": " , "}, "Name at least one tag to add or remove."),
])
def test_bad_input_changes_nothing_and_says_why(alice, fields, message):
    ticket = make_ticket()
    before = footprint(ticket)
    client = signed_in(alice)
    response = client.post(reverse("desk:bulk"), {"ids": [ticket.pk], **fields})
    assert response.status_code == 302
    assert footprint(ticket) == before
    page = client.get(response["Location"]).content.decode()
    assert message in page
    assert checked_ids(page) == {ticket.pk}  # the selection is kept to try again


def test_no_selection_or_too_many_is_refused(alice):
    client = signed_in(alice)
    client.post(reverse("desk:bulk"), {"action": "priority", "priority": "P1"})
    assert "Select at least one ticket." in client.get("/desk/").content.decode()
    client.post(reverse("desk:bulk"), {"ids": list(range(1, 102)), "action": "priority", "priority": "P1"})
    assert "At most 100 tickets at once." in client.get("/desk/").content.decode()
    client.post(reverse("desk:bulk"), {"ids": ["1x"], "action": "priority", "priority": "P1"})
    assert "Ticket ids are whole numbers." in client.get("/desk/").content.decode()


def test_queries_grow_by_a_constant_per_ticket(alice):
    client = signed_in(alice)

    def count(n):
        tickets = [make_ticket() for _ in range(n)]
        with CaptureQueriesContext(connection) as queries:
            post_bulk(client, tickets, "priority", priority="P1")
        assert all(Ticket.objects.get(pk=t.pk).priority == "P1" for t in tickets)
        return len(queries)

    one, three, five = count(1), count(3), count(5)
    per_ticket = (three - one) // 2
    assert three - one == 2 * per_ticket and five - three == 2 * per_ticket
    assert per_ticket <= 8  # savepoint, lock, update, event, savepoint release… never a query per row shown


def test_only_staff_may_post_and_only_by_post(client, ticket):
    url = reverse("desk:bulk")
    data = {"ids": [ticket.pk], "action": "priority", "priority": "P1"}
    anonymous = client.post(url, data)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    visitor = get_user_model().objects.create_user("visitor", password="pw")
    assert signed_in(visitor).post(url, data).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).priority == "P3"


def test_get_is_not_allowed_and_csrf_is_required(alice, ticket):
    assert signed_in(alice).get(reverse("desk:bulk")).status_code == 405
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(alice)
    response = guarded.post(reverse("desk:bulk"), {"ids": [ticket.pk], "action": "priority", "priority": "P1"})
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).priority == "P3"


def test_the_way_back_stays_in_the_desk_queue(alice, ticket):
    client = signed_in(alice)
    data = {"ids": [ticket.pk], "action": "priority", "priority": "P2"}
    for unsafe in ("//evil.example.com/desk/", "https://evil.example.com/", "/admin/"):
        assert client.post(reverse("desk:bulk"), {**data, "next": unsafe})["Location"] == "/desk/"
    kept = "/desk/?queue=mine&sort=priority&page=2"
    assert client.post(reverse("desk:bulk"), {**data, "next": kept})["Location"] == kept


def test_the_queue_rows_carry_a_checkbox_and_the_version(alice, ticket):
    page = signed_in(alice).get("/desk/?queue=all").content.decode()
    assert f'name="ids" value="{ticket.pk}" form="bulk-form"' in page
    assert f'name="version-{ticket.pk}" value="{ticket.version}" form="bulk-form"' in page
    assert 'id="bulk-form"' in page and 'action="/desk/bulk/"' in page
    partial = signed_in(alice).get("/desk/?queue=all&partial=1").content.decode()
    assert f'name="ids" value="{ticket.pk}"' in partial


def test_the_assignee_choices_and_tier_are_read_once(alice, tiers):
    # The bulk form adds no per-row query to the queue page (its rows only read the tickets already loaded).
    client = signed_in(alice)
    for _ in range(3):
        make_ticket()

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/desk/?queue=all").status_code == 200
        return len(queries)

    few = count()
    for _ in range(10):
        make_ticket(tier=Tier.objects.get(code="L2"))
    assert count() == few
