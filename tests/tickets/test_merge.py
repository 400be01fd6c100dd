"""Merging a duplicate into its primary: the thread moves whole, the duplicate is closed with a pointer, the customer
is told once, the metrics count the pair as one contact plus one repeat, and every illegal merge is refused —
also when two agents merge the pair in opposite directions at the same moment (PostgreSQL)."""
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from metrics.selectors import summary
from notifications.models import Notification
from tests.api.conftest import client_for
from tests.concurrency import race
from tests.factories import make_ticket
from tickets import backlog, services
from tickets.exceptions import TicketError
from tickets.models import Attachment, Comment, Event, Ticket
from tickets.policy import Actor
from tickets.workflow import EventKind, Status

pytestmark = pytest.mark.django_db


def resolve(actor, ticket):
    return services.ticket_resolve(actor=actor, ticket_id=ticket.pk, summary="Replaced the fuser",
                                   affected_item="Printer", steps_before="None", findings="Worn fuser")


@pytest.fixture
def pair(as_alice):
    """Dana's primary (taken by Alice, one reply) and her duplicate with a full thread: a public reply, an internal
    note, Dana's answer and two files."""
    primary = make_ticket(subject="Printer jams on floor 3")
    services.ticket_take(actor=as_alice, ticket_id=primary.pk)
    services.comment_add(actor=as_alice, ticket_id=primary.pk, body="Looking at it.")
    duplicate = make_ticket(subject="Printer still jamming", description="Same printer, again.")
    dana = Actor.customer(duplicate.requester)
    services.comment_add(actor=as_alice, ticket_id=duplicate.pk, body="Is it the tray 2 printer?")
    services.comment_add(actor=as_alice, ticket_id=duplicate.pk, body="Zebra internal clue", internal=True)
    services.comment_add(actor=dana, ticket_id=duplicate.pk, body="Yes, tray 2, Quagga")
    for name in ("jam.txt", "photo.png"):
        content = b"\x89PNG\r\n\x1a\n" + b"\0" * 16 if name.endswith(".png") else b"jam log\n"
        services.attachment_add(actor=dana, ticket_id=duplicate.pk, upload=SimpleUploadedFile(name, content))
    return Ticket.objects.get(pk=primary.pk), Ticket.objects.get(pk=duplicate.pk)


def test_merge_moves_every_comment_and_attachment_and_keeps_authors_and_times(pair, as_alice, alice):
    primary, duplicate = pair
    before = {c.pk: (c.author_id, c.author_requester_id, c.author_role, c.created_at, c.body, c.internal)
              for c in Comment.objects.filter(ticket__in=pair)}
    files = {a.pk: (a.original_name, a.file.name, a.size) for a in Attachment.objects.filter(ticket__in=pair)}
    assert (Comment.objects.filter(ticket=duplicate).count(), Attachment.objects.filter(ticket=duplicate).count()) \
        == (3, 2)

    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk, version=duplicate.version)

    assert not Comment.objects.filter(ticket=duplicate).exists()
    assert not Attachment.objects.filter(ticket=duplicate).exists()
    after = {c.pk: (c.author_id, c.author_requester_id, c.author_role, c.created_at, c.body, c.internal)
             for c in Comment.objects.filter(ticket=primary)}
    assert after == before and len(after) == 4
    assert {a.pk: (a.original_name, a.file.name, a.size) for a in Attachment.objects.filter(ticket=primary)} == files
    # The files are downloadable from the primary, in the desk and through the API.
    desk, api = client_for(alice, token=False), client_for(alice)
    for attachment in Attachment.objects.filter(ticket=primary):
        got = desk.get(reverse("desk:attachment", args=[primary.pk, attachment.pk]))
        assert got.status_code == 200 and b"".join(got.streaming_content)
        assert api.get(f"/api/v1/tickets/{primary.pk}/attachments/{attachment.pk}/download/").status_code == 200
    assert len(api.get(f"/api/v1/tickets/{primary.pk}/comments/").json()["results"]) == 4
    # The primary's search text gains the moved comments: a search finds the primary by them.
    assert [t["id"] for t in api.get("/api/v1/tickets/", {"q": "Quagga"}).json()["results"]] == [primary.pk]


def test_the_duplicate_is_closed_with_a_pointer_and_both_record_the_merge(pair, as_alice):
    primary, duplicate = pair
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.reference)
    dup, prim = Ticket.objects.get(pk=duplicate.pk), Ticket.objects.get(pk=primary.pk)
    assert (dup.status, dup.merged_into_id, dup.version) == (Status.CLOSED, primary.pk, duplicate.version + 1)
    assert dup.closed_at is not None and dup.resolved_at is None and dup.csat_rating is None
    assert (prim.status, prim.merged_into_id, prim.version) == (primary.status, None, primary.version + 1)
    merged = Event.objects.get(ticket=dup, kind=EventKind.MERGED)
    assert (merged.from_status, merged.to_status) == (Status.NEW, Status.CLOSED)
    assert merged.data == {"into": primary.pk, "reference": primary.reference, "comments": 3, "attachments": 2}
    merged_in = Event.objects.get(ticket=prim, kind=EventKind.MERGED_IN)
    assert merged_in.data["from"] == duplicate.pk and merged_in.data["reference"] == duplicate.reference
    assert len(merged_in.data["comment_ids"]) == 3 and len(merged_in.data["attachment_ids"]) == 2
    assert not Event.objects.filter(ticket=dup, kind=EventKind.CLOSED).exists()


def test_the_open_ticket_counts_lose_the_duplicate(pair, as_alice, tiers):
    primary, duplicate = pair
    before = backlog.counts()
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)
    after = backlog.counts()
    l1 = tiers["L1"].pk
    assert after.get((l1, Status.NEW), 0) == before[(l1, Status.NEW)] - 1
    assert after.get((l1, Status.DIAGNOSING)) == before[(l1, Status.DIAGNOSING)]
    backlog.rebuild()
    assert backlog.counts() == after


def test_the_customer_is_told_once_naming_the_primary(pair, as_alice, django_capture_on_commit_callbacks):
    primary, duplicate = pair
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)
    sent = list(Notification.objects.values_list("recipient", "template"))
    assert sent == [("dana@example.com", "customer_merged")]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"] and primary.reference in message.subject
    assert primary.reference in message.body and "Printer jams on floor 3" in message.body
    assert "/support/t/" in message.body and "Thank you for contacting" not in message.body


def test_the_metrics_count_the_pair_as_one_contact_plus_one_repeat(as_alice):
    start = timezone.now() - timedelta(minutes=1)
    primary = make_ticket(subject="VPN down", description="The VPN gateway refuses logins.",
                          requester_email="vic@example.com")
    duplicate = make_ticket(subject="Cannot connect from home", description="Outlook shows offline at home.",
                            requester_email="vic@example.com")
    assert duplicate.repeat_of_id is None  # different words, no category: not detected as a repeat
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)
    numbers = summary(start=start, end=timezone.now() + timedelta(minutes=1))
    assert numbers["created"] == 2 and numbers["repeat_contacts"] == 1
    assert numbers["time_to_resolve"]["median"] is None and numbers["csat"]["count"] == 0
    assert Ticket.objects.get(pk=duplicate.pk).repeat_of_id == primary.pk


def test_a_reopened_duplicate_merged_away_is_no_resolution(as_alice):
    start = timezone.now() - timedelta(minutes=1)
    primary = make_ticket(subject="VPN down", description="The VPN gateway refuses logins.",
                          requester_email="vic@example.com")
    duplicate = make_ticket(subject="Cannot connect from home", description="Outlook shows offline at home.",
                            requester_email="vic@example.com")
    services.ticket_take(actor=as_alice, ticket_id=duplicate.pk)
    resolve(as_alice, duplicate)
    services.ticket_reopen(actor=as_alice, ticket_id=duplicate.pk, reason="Not fixed")
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)
    numbers = summary(start=start, end=timezone.now() + timedelta(minutes=1))
    assert numbers["time_to_resolve"]["median"] is None and numbers["flr_rate"] is None
    assert numbers["repeat_contacts"] == 2  # the duplicate, and its reopen


def test_a_primary_counted_as_repeat_of_the_duplicate_turns_the_link_around(as_alice):
    older = make_ticket(subject="Printer jams", requester_email="vic@example.com")
    newer = make_ticket(subject="Printer jams", requester_email="vic@example.com")
    assert newer.repeat_of_id == older.pk
    services.ticket_merge(actor=as_alice, ticket_id=older.pk, into_id=newer.pk)
    assert Ticket.objects.get(pk=newer.pk).repeat_of_id is None
    assert Ticket.objects.get(pk=older.pk).repeat_of_id == newer.pk
    assert Ticket.objects.filter(pk__in=[older.pk, newer.pk], repeat_of__isnull=False).count() == 1


# --- refusals ------------------------------------------------------------------------------------------------


def refusal(actor, ticket_id, into_id, **kwargs) -> TicketError:
    with pytest.raises(TicketError) as refused:
        services.ticket_merge(actor=actor, ticket_id=ticket_id, into_id=into_id, **kwargs)
    return refused.value


def test_refusals(pair, as_alice, as_bob):
    primary, duplicate = pair
    other_customer = make_ticket(requester_email="erin@example.com")
    resolved = make_ticket(subject="Old one")
    services.ticket_take(actor=as_alice, ticket_id=resolved.pk)
    resolve(as_alice, resolved)
    cases = [
        ((as_alice, duplicate.pk, duplicate.pk), TicketError.ILLEGAL_TRANSITION, "itself"),
        ((as_alice, duplicate.pk, primary.pk, {"version": duplicate.version - 1}), TicketError.STALE_VERSION, ""),
        ((as_bob, duplicate.pk, primary.pk), TicketError.FORBIDDEN, ""),  # an L2 agent, an L1 duplicate
        ((as_alice, duplicate.pk, other_customer.pk), TicketError.ILLEGAL_TRANSITION, "another customer"),
        ((as_alice, duplicate.pk, resolved.pk), TicketError.ILLEGAL_TRANSITION, "resolved"),
        ((as_alice, resolved.pk, primary.pk), TicketError.ILLEGAL_TRANSITION, "resolved"),
        ((as_alice, duplicate.pk, 10**9), TicketError.INVALID, "no ticket"),
        ((as_alice, duplicate.pk, "HD-12x"), TicketError.INVALID, "reference"),
    ]
    for args, code, words in cases:
        kwargs = args[3] if len(args) > 3 else {}
        error = refusal(*args[:3], **kwargs)
        assert error.code == code, (args, error)
        assert words.lower() in str(error).lower(), (args, error)
    assert Ticket.objects.get(pk=duplicate.pk).version == duplicate.version
    assert Comment.objects.filter(ticket=duplicate).count() == 3


def test_no_merge_from_into_or_back_through_a_merged_ticket(pair, as_alice):
    primary, duplicate = pair
    third = make_ticket(subject="Third report")
    services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)
    again = refusal(as_alice, duplicate.pk, third.pk)
    assert again.code == TicketError.ILLEGAL_TRANSITION and "already merged" in str(again)
    into_merged = refusal(as_alice, third.pk, duplicate.pk)
    assert into_merged.code == TicketError.ILLEGAL_TRANSITION and "merge into that ticket instead" in str(into_merged)
    cycle = refusal(as_alice, primary.pk, duplicate.pk)  # back the other way: would make a loop
    assert cycle.code == TicketError.ILLEGAL_TRANSITION
    closed = Ticket.objects.get(pk=duplicate.pk)
    closed_error = refusal(as_alice, duplicate.pk, primary.pk)
    assert closed.status == Status.CLOSED and closed_error.code == TicketError.ILLEGAL_TRANSITION


# --- the API and the desk -----------------------------------------------------------------------------------------


def test_the_api_merges_and_explains_refusals(pair, alice):
    primary, duplicate = pair
    api = client_for(alice)
    url = f"/api/v1/tickets/{duplicate.pk}/merge/"
    stale = api.post(url, {"into": primary.reference, "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert api.post(url, {"into": "nonsense"}, format="json").status_code == 400
    assert api.post(url, {}, format="json").status_code == 400
    done = api.post(url, {"into": primary.reference, "version": duplicate.version}, format="json")
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["merged_into"]) == ("closed", primary.pk)
    again = api.post(url, {"into": str(primary.pk)}, format="json")
    assert again.status_code == 409 and "already merged" in again.json()["detail"]
    assert api.get(f"/api/v1/tickets/{primary.pk}/").json()["merged_into"] is None
    kinds = [e["kind"] for e in api.get(f"/api/v1/tickets/{primary.pk}/events/").json()["results"]]
    assert kinds[-1] == "merged_in"


def test_the_desk_merges_by_reference_and_shows_both_sides(pair, alice):
    primary, duplicate = pair
    desk = client_for(alice, token=False)
    page = desk.get(reverse("desk:ticket", args=[duplicate.pk])).content.decode()
    assert 'id="merge-form"' in page
    refused = desk.post(reverse("desk:merge", args=[duplicate.pk]), {"into": duplicate.reference, "version": 1})
    assert refused.status_code == 409 and "cannot be merged into itself" in refused.content.decode()
    done = desk.post(reverse("desk:merge", args=[duplicate.pk]),
                     {"into": primary.reference.lower(), "version": duplicate.version})
    assert done.status_code == 302
    page = desk.get(reverse("desk:ticket", args=[duplicate.pk])).content.decode()
    assert 'id="merged-into"' in page and primary.reference in page and 'id="merge-form"' not in page
    page = desk.get(reverse("desk:ticket", args=[primary.pk])).content.decode()
    assert duplicate.reference in page and "Yes, tray 2, Quagga" in page and "Zebra internal clue" in page


def test_the_primary_page_needs_the_same_queries_after_1_or_4_merges(alice, as_alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    primary = make_ticket()
    desk = client_for(alice, token=False)

    def merge_one():
        duplicate = make_ticket()
        services.comment_add(actor=as_alice, ticket_id=duplicate.pk, body="moved along")
        services.ticket_merge(actor=as_alice, ticket_id=duplicate.pk, into_id=primary.pk)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(reverse("desk:ticket", args=[primary.pk])).status_code == 200
        return len(queries)

    merge_one()
    few = count()
    for _ in range(3):
        merge_one()
    assert count() == few


# --- racing merges (PostgreSQL) ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("trial", range(5))
def test_opposite_merges_at_once_do_not_deadlock_and_at_most_one_wins(alice, mona, trial):
    agent, manager = Actor.of_user(alice), Actor.of_user(mona)
    a, b = make_ticket(subject="A"), make_ticket(subject="B")
    services.comment_add(actor=agent, ticket_id=a.pk, body="on A")
    services.comment_add(actor=agent, ticket_id=b.pk, body="on B")
    results = race(
        lambda: services.ticket_merge(actor=agent, ticket_id=a.pk, into_id=b.pk),
        lambda: services.ticket_merge(actor=manager, ticket_id=b.pk, into_id=a.pk),
    )
    won = [r for r in results if isinstance(r, Ticket)]
    lost = [r for r in results if isinstance(r, TicketError)]
    assert len(won) <= 1 and len(won) + len(lost) == 2, results  # a deadlock would surface as another error
    assert all(error.code == TicketError.ILLEGAL_TRANSITION for error in lost)
    tickets = {t.pk: t for t in Ticket.objects.filter(pk__in=[a.pk, b.pk])}
    merged = [t for t in tickets.values() if t.merged_into_id]
    assert len(merged) == len(won) == 1
    survivor = tickets[merged[0].merged_into_id]
    assert survivor.status == Status.NEW and survivor.merged_into_id is None
    assert Comment.objects.filter(ticket=survivor).count() == 2
    assert Event.objects.filter(kind=EventKind.MERGED).count() == 1
