"""The access log: every page that shows one ticket or one requester to staff writes exactly one record (one
INSERT, no other query), lists write none, and records can be neither changed nor deleted."""
import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from privacy import audit
from privacy.models import AccessRecord, Action, Channel
from tests.factories import make_ticket, staff_user
from tests.privacy.conftest import client_for

pytestmark = pytest.mark.django_db


def only_record(**expected) -> AccessRecord:
    record = AccessRecord.objects.get()
    for name, value in expected.items():
        assert getattr(record, name) == value, (name, getattr(record, name), value)
    return record


def audit_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "privacy_accessrecord" in q["sql"]]


def test_the_desk_ticket_page_records_one_view(alice_client, alice, ticket):
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get(reverse("desk:ticket", args=[ticket.pk]), REMOTE_ADDR="10.1.2.3").status_code == 200
    only_record(user=alice, action=Action.VIEWED_TICKET, channel=Channel.DESK, ticket_id=ticket.pk,
                requester_id=ticket.requester_id, address="10.1.2.3")
    # The view costs one INSERT: the ticket and its requester come from the row the page already read.
    [sql] = audit_queries(queries)
    assert sql.startswith("INSERT INTO")


def test_a_refused_action_that_shows_the_page_again_records_it(alice_client, ticket):
    response = alice_client.post(reverse("desk:action", args=[ticket.pk, "escalate"]), {"reason": "", "version": 1})
    assert response.status_code == 400
    only_record(action=Action.VIEWED_TICKET, ticket_id=ticket.pk)


def test_the_api_ticket_detail_records_one_view(alice, ticket):
    api = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/api/v1/tickets/{ticket.pk}/", REMOTE_ADDR="2001:db8::7").status_code == 200
    only_record(user=alice, action=Action.VIEWED_TICKET, channel=Channel.API, ticket_id=ticket.pk,
                requester_id=ticket.requester_id, address="2001:db8::7")
    [sql] = audit_queries(queries)
    assert sql.startswith("INSERT INTO")


def test_an_unknown_or_refused_ticket_records_nothing(alice, alice_client):
    assert client_for(alice).get("/api/v1/tickets/999999/").status_code == 404
    assert alice_client.get(reverse("desk:ticket", args=[999999])).status_code == 404
    assert client_for(None).get("/api/v1/tickets/1/").status_code == 401
    assert not AccessRecord.objects.exists()


def test_lists_are_not_recorded_row_by_row(alice, alice_client):
    for _ in range(3):
        make_ticket()
    assert alice_client.get(reverse("desk:queue"), {"queue": "all"}).status_code == 200
    assert len(client_for(alice).get("/api/v1/tickets/").json()["results"]) == 3
    assert not AccessRecord.objects.exists()


def test_the_admin_change_pages_record_a_view(mona_client, mona, ticket):
    assert mona_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).status_code == 200
    first = only_record(user=mona, action=Action.VIEWED_TICKET, channel=Channel.ADMIN, ticket_id=ticket.pk,
                        requester_id=ticket.requester_id)
    page = reverse("admin:tickets_requester_change", args=[ticket.requester_id])
    assert mona_client.get(page).status_code == 200
    second = AccessRecord.objects.exclude(pk=first.pk).get()
    assert (second.user, second.action, second.channel, second.ticket_id, second.requester_id) == (
        mona, Action.VIEWED_REQUESTER, Channel.ADMIN, None, ticket.requester_id)
    # Saving the form is not a view (the admin's own history records the change); an unknown id shows nothing.
    saved = mona_client.post(page, {"email": "dana@example.com", "name": "Dana K.", "language": ""})
    assert saved.status_code == 302
    assert mona_client.get(reverse("admin:tickets_requester_change", args=[999999])).status_code == 302
    assert AccessRecord.objects.count() == 2


def test_the_desk_requester_page_records_a_view(alice_client, alice, ticket):
    assert alice_client.get(reverse("privacy:requester", args=[ticket.requester_id])).status_code == 200
    only_record(user=alice, action=Action.VIEWED_REQUESTER, channel=Channel.DESK, requester_id=ticket.requester_id,
                ticket_id=None)


def test_records_cannot_be_changed_or_deleted(alice, ticket):
    record = audit.write(user=alice, action=Action.VIEWED_TICKET, origin=audit.Origin(Channel.DESK, "10.0.0.1"),
                         ticket=ticket)
    record.action = Action.EXPORTED
    with pytest.raises(ValidationError):
        record.save()
    with pytest.raises(ValidationError):
        record.delete()
    with pytest.raises(ValidationError):
        AccessRecord.objects.filter(pk=record.pk).update(action=Action.EXPORTED)
    with pytest.raises(ValidationError):
        AccessRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(ValidationError), transaction.atomic():
        AccessRecord.objects.bulk_update([record], ["action"])
    assert AccessRecord.objects.get(pk=record.pk).action == Action.VIEWED_TICKET


@pytest.mark.postgres
def test_the_database_refuses_raw_changes_of_records(alice, ticket):
    record = audit.write(user=alice, action=Action.VIEWED_TICKET, origin=audit.Origin(Channel.DESK), ticket=ticket)
    for sql in ("UPDATE privacy_accessrecord SET action = 'exported' WHERE id = %s",
                "DELETE FROM privacy_accessrecord WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [record.pk])
    assert AccessRecord.objects.get(pk=record.pk).action == Action.VIEWED_TICKET


def test_an_address_that_is_not_an_ip_is_left_empty(alice_client, ticket):
    alice_client.get(reverse("desk:ticket", args=[ticket.pk]), REMOTE_ADDR="unix:/run/gunicorn.sock")
    only_record(address=None)


# --- the admin's list of records ----------------------------------------------------------------------------


def test_managers_list_and_filter_the_log_read_only(mona_client, mona, alice, bob, ticket):
    desk = audit.Origin(Channel.DESK, "10.0.0.1")
    seen = audit.write(user=alice, action=Action.VIEWED_TICKET, origin=desk, ticket=ticket)
    audit.write(user=bob, action=Action.VIEWED_REQUESTER, origin=desk, requester=ticket.requester)
    changelist = reverse("admin:privacy_accessrecord_changelist")

    def listed(**params) -> str:
        """The result table of the list page (the filters beside it name every action)."""
        page = mona_client.get(changelist, params)
        assert page.status_code == 200
        text = page.content.decode()
        return text[text.index('id="result_list"'):text.index("</table>", text.index('id="result_list"'))] if (
            'id="result_list"' in text) else ""

    everything = listed()
    assert "alice" in everything and "bob" in everything and "viewed a ticket" in everything
    by_user = listed(user=alice.pk)
    assert "viewed a ticket" in by_user and "viewed a requester" not in by_user
    by_action = listed(action__exact="viewed_requester")
    assert "viewed a requester" in by_action and "viewed a ticket" not in by_action
    day = seen.at
    assert "viewed a ticket" in listed(at__year=day.year, at__month=day.month, at__day=day.day)
    assert "viewed a ticket" not in listed(at__year=day.year - 1)
    detail = mona_client.get(reverse("admin:privacy_accessrecord_change", args=[seen.pk])).content.decode()
    assert 'name="_save"' not in detail
    assert mona_client.get(reverse("admin:privacy_accessrecord_add")).status_code == 403
    assert mona_client.post(reverse("admin:privacy_accessrecord_delete", args=[seen.pk]), {"post": "yes"}
                            ).status_code == 403
    assert AccessRecord.objects.filter(pk=seen.pk).exists()


def test_staff_who_are_not_managers_do_not_see_the_log(db, ticket):
    agent = staff_user("erin", tier="L1")
    agent.is_staff = True  # may open the admin, as some agents are allowed to
    agent.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(agent)
    assert client.get(reverse("admin:privacy_accessrecord_changelist")).status_code == 403
    assert "privacy" not in client.get(reverse("admin:index")).content.decode().lower()
