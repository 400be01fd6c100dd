"""The export of a requester's data: everything held about them, nothing about anyone else, for managers only,
recorded; the ZIP holds the same document and the files."""
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from privacy import services
from privacy.models import AccessRecord, Action, Channel
from tests.factories import make_ticket
from tests.privacy.conftest import EMAIL, NAME, OLGA_EMAIL, OLGA_NEEDLES, PNG
from tickets import services as ticket_services
from tickets.exceptions import TicketError
from tickets.models import Comment, Event, Requester

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(person, as_mona) -> dict:
    return services.requester_export(requester=person.requester, actor=as_mona)


def test_the_export_holds_the_requester_and_every_ticket_with_its_fields(person, document):
    assert document["format"] == services.FORMAT
    assert document["requester"] == {
        "id": person.requester.pk, "email": EMAIL, "name": NAME, "language": person.requester.language,
        "created_at": person.requester.created_at.isoformat(), "anonymised": False}
    tickets = {t["id"]: t for t in document["tickets"]}
    assert set(tickets) == {person.portal.pk, person.vpn.pk, person.mailed.pk}
    portal = tickets[person.portal.pk]
    assert (portal["reference"], portal["subject"], portal["description"], portal["status"], portal["tier"],
            portal["category"], portal["channel"]) == (
        person.portal.reference, "Zephyrwood dock is dead", "The Xylocarp dock flickers since Tuesday.", "closed",
        "L1", "network", "web")
    assert portal["diagnosis"] == {"affected_item": "Xylocarp dock at QZ-4711", "steps_before": "Quentin moved desks",
                                   "findings": "Power supply dead"}
    assert portal["resolution"] == {"summary": "Replaced Quentin's dock power supply"}
    assert portal["csat"] == {"rating": 4, "comment": "Gracious help, thanks"}
    assert tickets[person.vpn.pk]["reopen_count"] == 1 and tickets[person.vpn.pk]["tier"] == "L2"
    assert tickets[person.mailed.pk]["channel"] == "email"


def test_comments_they_wrote_and_public_replies_but_no_internal_notes(person, document):
    portal = next(t for t in document["tickets"] if t["id"] == person.portal.pk)
    assert [(c["body"], c["by_requester"], c["author_role"]) for c in portal["comments"]] == [
        ("Hello Quentin, which dock model is it?", False, "agent"), ("The one on desk QZ-4711.", True, "customer")]
    mailed = next(t for t in document["tickets"] if t["id"] == person.mailed.pk)
    assert [c["body"] for c in mailed["comments"]] == ["It is still broken, Marmalade again."]
    assert "Quentin sits at QZ-4711" not in json.dumps(document)


def test_every_event_of_their_tickets_is_exported(person, document):
    for ticket in document["tickets"]:
        assert [e["id"] for e in ticket["events"]] == list(
            Event.objects.filter(ticket_id=ticket["id"]).order_by("at", "id").values_list("pk", flat=True))
    vpn = next(t for t in document["tickets"] if t["id"] == person.vpn.pk)
    reasons = {e["kind"]: e["reason"] for e in vpn["events"]}
    assert reasons["reopened"] == "Still broken in Quillon room"
    assert reasons["escalated"] == "Quentin needs a Brindlecrest tunnel"
    escalated = next(e for e in vpn["events"] if e["kind"] == "escalated")
    assert (escalated["from_tier"], escalated["to_tier"], escalated["actor_role"]) == ("L1", "L2", "agent")


def test_attachments_mail_notifications_links_and_ratings(person, document):
    files = [a for t in document["tickets"] for a in t["attachments"]]
    assert sorted((a["name"], a["by_requester"]) for a in files) == [
        ("zephyrwood-screen.png", True), ("zephyrwood.log", True)]
    screen = next(a for a in files if a["name"] == "zephyrwood-screen.png")
    assert (screen["content_type"], screen["size"]) == ("image/png", len(PNG))
    assert screen["file"] == f"attachments/{screen['id']}/zephyrwood-screen.png"
    mails = document["inbound_messages"]
    assert [m["subject"] for m in mails] == ["Printer Marmalade jams", f"Re: [{person.mailed.reference}] Printer "
                                                                      "Marmalade jams"]
    assert "the Marmalade printer jams" in mails[0]["raw"] and mails[0]["ticket"] == person.mailed.pk
    assert document["notifications"] and {n["ticket"] for n in document["notifications"]} <= {
        person.portal.pk, person.vpn.pk, person.mailed.pk}
    assert len(document["portal_links"]) == 1 and document["portal_links"][0]["used_at"] is None
    assert document["csat"] == [{"ticket": person.portal.pk, "closed_at": document["csat"][0]["closed_at"],
                                 "rating": 4, "comment": "Gracious help, thanks"}]


def test_nothing_of_another_requester_is_exported(person, document, as_mona):
    text = json.dumps(document)
    for needle in (*OLGA_NEEDLES, OLGA_EMAIL, person.olga.reference):
        assert needle not in text
    # Olga's own export has her and nothing of Quentin's.
    olga = services.requester_export(requester=person.olga.requester, actor=as_mona)
    assert [t["id"] for t in olga["tickets"]] == [person.olga.pk]
    assert olga["inbound_messages"] == []
    # An agent linked the article published from Quentin's ticket to hers: the event is there, not his words.
    used = next(e for e in olga["tickets"][0]["events"] if e["kind"] == "suggestion_used")
    assert set(used["data"]) == {"article_id", "how"}
    assert "Zephyrwood" not in json.dumps(olga) and EMAIL not in json.dumps(olga)


def test_the_export_is_recorded(person, mona, as_mona):
    services.requester_export(requester=person.requester, actor=as_mona)
    record = AccessRecord.objects.get(action=Action.EXPORTED)
    assert (record.user, record.requester_id, record.ticket_id, record.channel) == (
        mona, person.requester.pk, None, Channel.COMMAND)


def test_agents_may_not_export(person, as_alice):
    with pytest.raises(TicketError) as refused:
        services.requester_export(requester=person.requester, actor=as_alice)
    assert refused.value.code == TicketError.FORBIDDEN
    with pytest.raises(TicketError):
        services.requester_export_zip(requester=person.requester, actor=as_alice)
    assert not AccessRecord.objects.exists()


def test_the_zip_holds_the_document_and_the_files(person, as_mona):
    archive = services.requester_export_zip(requester=person.requester, actor=as_mona)
    with zipfile.ZipFile(io.BytesIO(archive.read())) as zipped:
        document = json.loads(zipped.read("requester.json"))
        files = [a for t in document["tickets"] for a in t["attachments"]]
        assert sorted(zipped.namelist()) == sorted(["requester.json", *(a["file"] for a in files)])
        screen = next(a for a in files if a["name"] == "zephyrwood-screen.png")
        assert zipped.read(screen["file"]) == PNG
    assert document["requester"]["email"] == EMAIL
    assert AccessRecord.objects.filter(action=Action.EXPORTED).count() == 1


def test_a_file_missing_from_storage_is_named_without_a_path(person, as_mona):
    attachment = person.portal.attachments.get()
    attachment.file.storage.delete(attachment.file.name)
    archive = services.requester_export_zip(requester=person.requester, actor=as_mona)
    with zipfile.ZipFile(archive) as zipped:
        document = json.loads(zipped.read("requester.json"))
        entry = next(a for t in document["tickets"] for a in t["attachments"] if a["id"] == attachment.pk)
        assert entry["file"] is None and all(not n.startswith(f"attachments/{attachment.pk}/")
                                             for n in zipped.namelist())


def test_a_file_name_cannot_escape_its_folder_in_the_zip(person, as_mona):
    attachment = person.portal.attachments.get()
    type(attachment).objects.filter(pk=attachment.pk).update(original_name="..")
    document = services.requester_export(requester=person.requester, actor=as_mona)
    entry = next(a for t in document["tickets"] for a in t["attachments"] if a["id"] == attachment.pk)
    assert entry["file"] == f"attachments/{attachment.pk}/file"


def test_the_export_reads_a_fixed_number_of_queries(db, as_mona):
    def count() -> int:
        requester = Requester.objects.get(email="erin@example.org")
        with CaptureQueriesContext(connection) as queries:
            services.requester_export(requester=requester, actor=as_mona)
        return len(queries)

    make_ticket(requester_email="erin@example.org")
    few = count()
    for n in range(6):
        ticket = make_ticket(requester_email="erin@example.org", subject=f"Another {n}")
        ticket_services.comment_add(actor=as_mona, ticket_id=ticket.pk, body="Looking")
    assert Comment.objects.count() == 6
    assert count() == few
