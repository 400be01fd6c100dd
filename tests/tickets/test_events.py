"""The event log is append-only, and events reach subscribers once, after commit."""
import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from tests.factories import make_ticket
from tickets import outbox, services
from tickets.models import Event

pytestmark = pytest.mark.django_db

received = []


def record(event):
    received.append(event.pk)


def explode(event):
    raise RuntimeError("subscriber down")


@pytest.fixture(autouse=True)
def _clear_received():
    received.clear()


def test_an_event_cannot_be_changed(ticket):
    event = Event.objects.get(ticket=ticket)
    event.reason = "rewritten"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        Event.objects.filter(pk=event.pk).update(kind="closed")
    assert Event.objects.get(pk=event.pk).reason == ""


def test_an_event_cannot_be_deleted(ticket):
    event = Event.objects.get(ticket=ticket)
    with pytest.raises(ValidationError):
        event.delete()
    with pytest.raises(ValidationError):
        Event.objects.filter(ticket=ticket).delete()
    assert Event.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_the_database_refuses_raw_updates_and_deletes_of_events(ticket):
    event = Event.objects.get(ticket=ticket)
    for sql in (
        "UPDATE tickets_event SET reason = 'x' WHERE id = %s",
        "UPDATE tickets_event SET kind = 'closed' WHERE id = %s",
        "DELETE FROM tickets_event WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    with connection.cursor() as cur:  # the outbox marker is the one column that may change
        cur.execute("UPDATE tickets_event SET dispatched_at = now() WHERE id = %s", [event.pk])
    assert Event.objects.get(pk=event.pk).dispatched_at is not None


def test_events_are_published_only_after_commit(db, django_capture_on_commit_callbacks, settings):
    settings.TIERDESK_EVENT_HANDLERS = ["tests.tickets.test_events.record"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = make_ticket()
        assert received == []  # nothing leaves before commit
    assert len(callbacks) == 1
    assert received == [Event.objects.get(ticket=ticket).pk]
    assert Event.objects.get(ticket=ticket).dispatched_at is not None


def test_a_rolled_back_change_publishes_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        make_ticket()
        raise RuntimeError("half-way failure")
    assert callbacks == []
    assert not Event.objects.exists()


def test_dispatch_runs_subscribers_once(ticket, settings):
    settings.TIERDESK_EVENT_HANDLERS = ["tests.tickets.test_events.record"]
    event = Event.objects.get(ticket=ticket)
    assert outbox.dispatch(event.pk) is True
    assert outbox.dispatch(event.pk) is False
    assert received == [event.pk]


def test_a_failing_subscriber_leaves_the_event_for_the_drain(ticket, settings):
    settings.TIERDESK_EVENT_HANDLERS = ["tests.tickets.test_events.explode"]
    assert outbox.drain() == 0
    assert Event.objects.get(ticket=ticket).dispatched_at is None
    settings.TIERDESK_EVENT_HANDLERS = ["tests.tickets.test_events.record"]
    assert outbox.drain() == 1
    assert received == [Event.objects.get(ticket=ticket).pk]


def test_drain_picks_up_what_the_broker_never_delivered(ticket, as_alice, settings):
    settings.TIERDESK_EVENT_HANDLERS = ["tests.tickets.test_events.record"]
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)  # on_commit never fires inside the test transaction
    assert outbox.pending_ids() == list(Event.objects.filter(ticket=ticket).values_list("pk", flat=True))
    assert outbox.drain() == 2
    assert outbox.pending_ids() == []


def test_publish_survives_a_broker_outage(ticket, monkeypatch, caplog):
    from tickets import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.dispatch_events, "delay", broker_down)
    outbox.publish(Event.objects.get(ticket=ticket).pk)  # does not raise
    assert "wait for the outbox drain" in caplog.text
    assert Event.objects.get(ticket=ticket).dispatched_at is None


def test_bulk_publishing_sends_committed_events_in_one_message(db, monkeypatch, django_capture_on_commit_callbacks):
    from tickets import tasks

    sent = []
    monkeypatch.setattr(tasks.dispatch_events, "delay", lambda ids: sent.append(list(ids)))
    with outbox.publishing_in_bulk(), django_capture_on_commit_callbacks(execute=True):
        kept = make_ticket()
        with pytest.raises(RuntimeError), transaction.atomic():
            make_ticket(subject="rolled back")
            raise RuntimeError("half-way failure")
        also_kept = make_ticket()
        assert sent == []  # nothing leaves before the block ends
    expected = list(Event.objects.filter(ticket__in=[kept, also_kept]).order_by("id").values_list("id", flat=True))
    assert sent == [expected]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_publishes_its_events_in_one_message(tiers, alice, monkeypatch):
    """A repeat customer's new ticket commits two events (created, repeat_linked): one broker message."""
    from tests.api.conftest import client_for
    from tickets import tasks

    sent = []
    monkeypatch.setattr(tasks.dispatch_events, "delay", lambda ids: sent.append(list(ids)))
    api = client_for(alice)
    new = {"subject": "VPN drops", "description": "Every ten minutes.", "requester": {"email": "dana@example.com"}}
    first = api.post("/api/v1/tickets/", new, format="json").json()
    again = api.post("/api/v1/tickets/", new, format="json").json()
    assert again["repeat_of"] == first["id"]
    ids = list(Event.objects.filter(ticket_id=again["id"]).order_by("id").values_list("id", flat=True))
    assert len(ids) == 2
    assert sent[-1] == ids and len(sent) == 2
