"""Anonymising a requester: nothing of the person is left in any table, what the metrics read is unchanged, it
happens in one transaction (files go only after the commit), a second run changes nothing, and only managers
may do it."""
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from inbound.models import InboundMessage
from knowledge.models import Article, Revision
from notifications.models import Notification
from privacy import services
from privacy.models import AccessRecord, Action, Channel
from tests.privacy.conftest import EMAIL, NAME, NEEDLES, OLGA_EMAIL, OLGA_NEEDLES
from tickets import services as ticket_services
from tickets.exceptions import TicketError
from tickets.models import Attachment, Comment, Event, PortalLink, Requester, Ticket
from tickets.portal.tokens import tracking_token

pytestmark = pytest.mark.django_db

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "tsvector", "bytea")


def text_columns() -> list[tuple[str, str, str]]:
    """Every column of every table that can hold text (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.data_type = ANY(%s) "
            "ORDER BY 1, 2",
            [list(TEXT_TYPES)],
        )
        return cursor.fetchall()


def found_in_database(needles) -> dict[str, set]:
    """{needle: {"table.column", ...}} for each needle found (any case) anywhere in the database's text."""
    found = {needle: set() for needle in needles}
    patterns = [f"%{needle}%" for needle in needles]
    with connection.cursor() as cursor:
        for table, column, kind in text_columns():
            value = f"encode(\"{column}\", 'escape')" if kind == "bytea" else f'"{column}"::text'
            # Names from information_schema, quoted; the needles are parameters.
            cursor.execute(f'SELECT {value} FROM "{table}" WHERE {value} ILIKE ANY(%s)', [patterns])  # noqa: S608
            for (text,) in cursor.fetchall():
                for needle in needles:
                    if needle.lower() in text.lower():
                        found[needle].add(f"{table}.{column}")
    return found


def metric_facts() -> list[tuple]:
    """What the metrics read from tickets and events (everything but free text)."""
    tickets = list(Ticket.objects.order_by("pk").values_list(
        "pk", "status", "tier_id", "priority", "category_id", "channel", "requester_id", "assignee_id",
        "created_at", "first_response_at", "resolved_at", "closed_at", "response_due_at", "escalation_due_at",
        "resolution_due_at", "resolve_business_us", "reopen_count", "repeat_of_id", "csat_rating"))
    events = [
        (e.pk, e.ticket_id, e.kind, e.at, e.actor_id, e.actor_requester_id, e.actor_role, e.from_status,
         e.to_status, e.from_tier_id, e.to_tier_id,
         {k: v for k, v in e.data.items() if k not in ("subject", "name", "title")})
        for e in Event.objects.order_by("pk")
    ]
    return tickets + events


@pytest.mark.postgres
def test_nothing_of_the_person_is_left_in_any_table(person, as_mona, django_capture_on_commit_callbacks):
    before = found_in_database(NEEDLES + OLGA_NEEDLES + (EMAIL,))
    # The scan sees every needle where the real paths put it (else it would prove nothing).
    assert all(before.values()), {needle: tables for needle, tables in before.items() if not tables}
    assert {"tickets_ticket.description", "tickets_comment.body", "tickets_event.reason", "tickets_event.data",
            "inbound_inboundmessage.raw", "knowledge_article.problem", "notifications_notification.recipient",
            "django_admin_log.object_repr", "tickets_attachment.original_name"} <= set().union(*before.values())
    assert all(default_storage.exists(name) for name in person.attachment_names)

    with django_capture_on_commit_callbacks(execute=True):
        done = services.requester_anonymise(requester=person.requester, actor=as_mona,
                                            reason=f"Letter from {NAME} <{EMAIL}>, ref. 114")

    after = found_in_database(NEEDLES + OLGA_NEEDLES + (EMAIL,))
    assert {needle: tables for needle, tables in after.items() if tables and needle not in OLGA_NEEDLES} == {}
    # Olga's file is untouched (her ticket only names the article, whose title was his subject).
    assert after["Otherperson"] == before["Otherperson"] and after["Vermilion"] == before["Vermilion"]
    assert not any(default_storage.exists(name) for name in person.attachment_names)
    assert (done.already, done.tickets, done.attachments, done.articles) == (False, 3, 2, 1)


def test_the_requester_keeps_ids_and_a_unique_placeholder_address(person, as_mona):
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    requester = Requester.objects.get(pk=person.requester.pk)
    assert requester.email == f"anonymised-{requester.pk}@anonymised.invalid"
    assert (requester.name, requester.language) == (services.ANONYMISED_TEXT, "")
    assert person.requester.email == requester.email  # the caller's object is updated too
    assert set(Ticket.objects.filter(requester=requester).values_list("pk", flat=True)) == {
        person.portal.pk, person.vpn.pk, person.mailed.pk}
    # The address is free again: a new mail from it is a new requester, not this one.
    assert not Requester.objects.filter(email=EMAIL).exists()


def test_every_text_of_the_tickets_is_replaced_and_empty_fields_stay_empty(person, as_mona):
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    marker = services.ANONYMISED_TEXT
    for ticket in Ticket.objects.filter(requester=person.requester):
        assert (ticket.subject, ticket.description, ticket.search_text) == (marker, marker, marker)
        assert ticket.resolution_summary == marker and ticket.findings == marker
        assert ticket.tracking_token_hash == ""
    assert Ticket.objects.get(pk=person.portal.pk).csat_comment == marker
    assert Ticket.objects.get(pk=person.vpn.pk).csat_comment == ""  # no comment was given: none is invented
    bodies = set(Comment.objects.filter(ticket__requester=person.requester).values_list("body", flat=True))
    assert bodies == {marker}  # the customer's, and the agents' replies and internal notes (they quote him)
    assert not Attachment.objects.filter(ticket__requester=person.requester).exists()
    # Search no longer finds the old text, and finds nothing of Olga's lost either.
    desk = Ticket.objects.all()
    from tickets.selectors import search_tickets

    assert not search_tickets(desk, "Xylocarp").exists() and not search_tickets(desk, "Zephyrwood").exists()
    assert list(search_tickets(desk, "Vermilion").values_list("pk", flat=True)) == [person.olga.pk]


def test_events_keep_everything_but_their_free_text(person, as_mona):
    before = metric_facts()
    reasons = dict(Event.objects.filter(ticket__requester=person.requester).values_list("pk", "reason"))
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    assert metric_facts() == before
    after = dict(Event.objects.filter(ticket__requester=person.requester).values_list("pk", "reason"))
    assert {pk: after[pk] for pk, reason in reasons.items() if reason} == {
        pk: services.ANONYMISED_TEXT for pk, reason in reasons.items() if reason}
    edit = Event.objects.get(ticket=person.vpn, kind="updated")
    assert edit.data["subject"] == {"from": services.ANONYMISED_TEXT, "to": services.ANONYMISED_TEXT}
    assert edit.data["category"] == {"from": None, "to": "printing"}
    assert Event.objects.get(ticket=person.portal, kind="attached").data["name"] == services.ANONYMISED_TEXT
    assert Event.objects.get(ticket=person.portal, kind="closed").data == {"csat": 4}


def test_mail_links_notifications_history_and_articles_are_cleaned(person, as_mona):
    pending = Notification.objects.filter(recipient=EMAIL, status="pending").count()
    assert pending and PortalLink.objects.filter(requester=person.requester).exists()
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    placeholder = services.placeholder_email(person.requester.pk)
    messages = InboundMessage.objects.filter(ticket__requester=person.requester)
    assert messages.count() == 2
    for message in messages:
        assert (message.sender, message.subject, bytes(message.raw), message.message_id) == (
            placeholder, services.ANONYMISED_TEXT, services.ANONYMISED_BYTES, "")
        assert message.key == f"anonymised:{message.pk}"
    mailed = Notification.objects.filter(recipient=placeholder)
    assert mailed.count() >= pending and not Notification.objects.filter(recipient=EMAIL).exists()
    assert not mailed.filter(status="pending").exists()  # nothing more is sent to him
    assert Notification.objects.filter(recipient=OLGA_EMAIL).exists()
    assert not PortalLink.objects.filter(requester=person.requester).exists()
    article = Article.objects.get(source_ticket=person.portal)
    assert article.title == services.ANONYMISED_TEXT
    # The fix stays knowledge; the case it came from (his words, the diagnosis quoting them) does not.
    assert article.solution == "Replaced [anonymised]'s dock power supply"
    assert "Affected item: [anonymised]" in article.problem
    for text in (article.problem, article.solution, *Revision.objects.filter(article=article).values_list(
            "problem", flat=True)):
        assert "Quentin" not in text and "Xylocarp" not in text and "QZ-4711" not in text
    used = Event.objects.get(ticket=person.olga, kind="suggestion_used")
    assert used.data["title"] == article.title and used.data["article_id"] == article.pk


def test_an_edit_does_not_copy_the_search_text_into_its_event(person):
    # The search text holds every comment, internal notes too: an edit's event (sent to webhooks) must not.
    edit = Event.objects.get(ticket=person.vpn, kind="updated")
    assert set(edit.data) == {"subject", "category"}


def test_the_old_tracking_link_and_open_forms_stop_working(person, as_mona, as_alice, client):
    token = tracking_token(Ticket.objects.get(pk=person.vpn.pk))
    assert client.get(reverse("portal:track", args=[token])).status_code == 200
    version = Ticket.objects.get(pk=person.vpn.pk).version
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    assert client.get(reverse("portal:track", args=[token])).status_code == 404
    # A form opened before the anonymisation cannot write the old text back.
    with pytest.raises(TicketError) as refused:
        ticket_services.ticket_update(actor=as_mona, ticket_id=person.vpn.pk, version=version,
                                      subject="VPN drops for Zephyrwood")
    assert refused.value.code == TicketError.STALE_VERSION


def test_the_anonymisation_is_recorded_with_its_reason_without_the_person(person, mona, as_mona):
    services.requester_anonymise(requester=person.requester, actor=as_mona,
                                 reason=f"Letter from {NAME} ({EMAIL}) of 3 May, REQ-114")
    record = AccessRecord.objects.get(action=Action.ANONYMISED)
    assert (record.user, record.requester_id, record.channel) == (mona, person.requester.pk, Channel.COMMAND)
    assert record.reason == "Letter from [anonymised] ([anonymised]) of 3 May, REQ-114"


def test_a_second_anonymisation_changes_nothing(person, as_mona):
    first = services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    snapshot = (metric_facts(), list(Comment.objects.values_list("pk", "body")),
                list(Event.objects.values_list("pk", "reason")), list(Ticket.objects.values_list("pk", "version")),
                list(AccessRecord.objects.values_list("pk", flat=True)))
    again = services.requester_anonymise(requester=Requester.objects.get(pk=person.requester.pk), actor=as_mona,
                                         reason="Erasure request 7, again")
    assert first.already is False and again.already is True and again.tickets == 0
    assert snapshot == (metric_facts(), list(Comment.objects.values_list("pk", "body")),
                        list(Event.objects.values_list("pk", "reason")),
                        list(Ticket.objects.values_list("pk", "version")),
                        list(AccessRecord.objects.values_list("pk", flat=True)))


def test_a_rolled_back_anonymisation_leaves_everything_and_every_file(person, as_mona,
                                                                      django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
        raise RuntimeError("the caller's transaction fails after it")
    assert callbacks == []
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL
    assert Ticket.objects.get(pk=person.portal.pk).description == "The Xylocarp dock flickers since Tuesday."
    assert Event.objects.get(ticket=person.portal, kind="closed").reason == "Gracious help, thanks"
    assert all(default_storage.exists(name) for name in person.attachment_names)
    assert not AccessRecord.objects.filter(action=Action.ANONYMISED).exists()


@pytest.mark.postgres
def test_the_event_log_stays_append_only_around_an_anonymisation(person, as_mona):
    event = Event.objects.get(ticket=person.olga, kind="created")
    services.requester_anonymise(requester=person.requester, actor=as_mona, reason="Erasure request 7")
    # In the same transaction, right after it: the trigger refuses free-text changes again, and always refused
    # every other column.
    for sql in ("UPDATE tickets_event SET reason = 'x' WHERE id = %s",
                "UPDATE tickets_event SET data = '{}' WHERE id = %s",
                "DELETE FROM tickets_event WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT set_config('tierdesk.redact_events', 'on', true)")
        cur.execute("UPDATE tickets_event SET kind = 'closed' WHERE id = %s", [event.pk])
    with pytest.raises(ValidationError):
        Event.objects.filter(pk=event.pk).update(reason="x")


def test_only_managers_may_anonymise_and_a_reason_is_required(person, as_alice, as_mona):
    with pytest.raises(TicketError) as refused:
        services.requester_anonymise(requester=person.requester, actor=as_alice, reason="I was asked to")
    assert refused.value.code == TicketError.FORBIDDEN
    for reason in ("", "   ", "x" * (services.REASON_MAX + 1)):
        with pytest.raises(TicketError) as invalid:
            services.requester_anonymise(requester=person.requester, actor=as_mona, reason=reason)
        assert invalid.value.code == TicketError.INVALID and invalid.value.fields == ["reason"]
    assert Requester.objects.get(pk=person.requester.pk).email == EMAIL
    assert not AccessRecord.objects.filter(action=Action.ANONYMISED).exists()


def test_a_requester_without_tickets_is_anonymised_too(db, as_mona):
    requester = Requester.objects.create(email="lonely@example.org", name="Lonely Person")
    done = services.requester_anonymise(requester=requester, actor=as_mona, reason="Erasure request 9")
    assert (done.already, done.tickets) == (False, 0)
    assert Requester.objects.get(pk=requester.pk).email == services.placeholder_email(requester.pk)
