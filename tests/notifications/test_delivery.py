"""Sending: SMTP outages and backoff, giving up, broker outages, rendering errors, one send per notification."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.template import TemplateSyntaxError
from django.urls import NoReverseMatch
from django.utils import timezone
from kombu.exceptions import OperationalError

from notifications import delivery, messages
from notifications.delivery import backoff, retry_due, send
from notifications.models import Notification
from tests.factories import make_ticket
from tests.notifications.conftest import SMTPServer, make_due, use_smtp
from tickets.models import Event
from tickets.workflow import EventKind

pytestmark = pytest.mark.django_db

DANA = "dana@example.com"


@pytest.fixture
def queued(ticket):
    """The customer's "we received your ticket" mail, queued but not sent."""
    event = Event.objects.get(ticket=ticket, kind=EventKind.CREATED)
    return Notification.objects.create(event=event, recipient=DANA, template="customer_created", language="en")


@pytest.fixture
def retries(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 30
    settings.NOTIFY_RETRY_MAX_SECONDS = 3600
    settings.NOTIFY_MAX_ATTEMPTS = 10


def test_backoff_doubles_and_is_capped(retries):
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(7).total_seconds() == 1920
    assert backoff(8).total_seconds() == 3600
    assert backoff(10_000).total_seconds() == 3600


def test_smtp_down_keeps_it_pending_with_backoff_then_sends_it_once_when_up(
    smtp_down, smtp_server, settings, retries, outbox_runs
):
    with outbox_runs():
        ticket = make_ticket()  # the send task runs at once and finds no server
    item = Notification.objects.get(event__ticket=ticket)
    assert (item.status, item.attempts) == ("pending", 1)
    assert item.last_error == "ConnectionRefusedError: Connection refused"
    waited = item.next_attempt_at - timezone.now()
    assert timedelta(seconds=28) < waited <= timedelta(seconds=30)
    assert retry_due() == 0, "not due yet: nothing is tried before the backoff has passed"
    assert send(item.pk) is None

    make_due(item)
    before = timezone.now()
    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("pending", 2)
    assert before + timedelta(seconds=60) <= item.next_attempt_at <= timezone.now() + timedelta(seconds=60)

    use_smtp(settings, smtp_server.port)  # the server is back
    make_due(item)
    assert retry_due() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error) == ("sent", 3, "")
    assert [got.rcpt_tos for got in smtp_server.received] == [[DANA]]

    # Sent is final: neither the sweep nor a stray task sends it again.
    make_due(item)
    assert retry_due() == 0
    assert send(item.pk) is None
    assert len(smtp_server.received) == 1


def test_after_max_attempts_it_is_failed(smtp_down, queued, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    for expected in ["pending", "pending", "failed"]:
        make_due(queued)
        assert send(queued.pk) == expected
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("failed", 3)
    assert queued.last_error == "ConnectionRefusedError: Connection refused"
    make_due(queued)
    assert send(queued.pk) is None
    assert retry_due() == 0


def test_a_temporary_refusal_is_retried_and_a_permanent_one_fails_at_once(smtp, queued, retries):
    smtp.handler.rcpt_answers = ["451 4.3.0 Mailbox busy, try later"]
    assert send(queued.pk) == "pending"
    queued.refresh_from_db()
    assert queued.last_error == "Recipient refused: SMTP 451 4.3.0 Mailbox busy, try later"

    smtp.handler.rcpt_answers = ["550 5.1.1 No such user"]
    make_due(queued)
    assert send(queued.pk) == "failed"
    queued.refresh_from_db()
    assert (queued.attempts, queued.last_error) == (2, "Recipient refused: SMTP 550 5.1.1 No such user")
    assert smtp.received == []


def test_a_broker_outage_never_raises_and_the_sweep_sends_it(smtp, monkeypatch, outbox_runs):
    from notifications import tasks

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to broker. Connection refused.")

    monkeypatch.setattr(tasks.send_notification, "delay", down)
    with outbox_runs():
        ticket = make_ticket()  # nothing raises
    item = Notification.objects.get(event__ticket=ticket)
    assert (item.status, item.attempts) == ("pending", 0)
    assert smtp.received == []

    assert retry_due() == 1  # due at once: it was never tried
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("sent", 1)
    assert len(smtp.received) == 1
    assert retry_due() == 0
    assert len(smtp.received) == 1


def test_the_beat_schedule_runs_the_sweep(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["notification-retries"]
    assert entry["task"] == "notifications.tasks.retry_due"
    assert entry["schedule"] == settings.NOTIFY_RETRY_SWEEP_SECONDS == 15


def test_the_sweep_task_sends_what_is_due(smtp, queued):
    from notifications.tasks import retry_due as task

    assert task.delay().get() == 1
    assert len(smtp.received) == 1


# --- rendering errors ------------------------------------------------------------------


def test_an_unknown_template_fails_at_once_with_the_reason(smtp, queued):
    Notification.objects.filter(pk=queued.pk).update(template="no_such_mail")
    assert send(queued.pk) == "failed"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("failed", 1)
    assert queued.last_error == "Rendering failed: RenderError: Unknown template 'no_such_mail'."
    assert smtp.received == []
    assert retry_due() == 0


def test_a_broken_template_fails_at_once_with_the_reason(smtp, queued, monkeypatch):
    def broken(name, context):
        raise TemplateSyntaxError("Invalid block tag on line 3: 'endblok'.")

    monkeypatch.setattr(messages, "render_to_string", broken)
    assert send(queued.pk) == "failed"
    queued.refresh_from_db()
    assert queued.last_error == "Rendering failed: TemplateSyntaxError: Invalid block tag on line 3: 'endblok'."
    assert smtp.received == []


def test_a_rendering_error_never_stores_the_tracking_link(smtp, queued, monkeypatch):
    def no_route(ticket):
        raise NoReverseMatch("Reverse for 'track' with arguments '('s3cr3t-token',)' not found.")

    monkeypatch.setattr(messages, "tracking_url", no_route)
    assert send(queued.pk) == "failed"
    queued.refresh_from_db()
    assert queued.last_error == "Rendering failed: NoReverseMatch."
    assert "s3cr3t" not in queued.last_error


def test_an_smtp_password_never_reaches_the_error(smtp_down, queued, settings):
    settings.EMAIL_HOST_USER = "mailer"
    settings.EMAIL_HOST_PASSWORD = "pa55-w0rd"
    send(queued.pk)
    queued.refresh_from_db()
    assert queued.last_error and "pa55" not in queued.last_error and "mailer" not in queued.last_error


# --- one send per notification ----------------------------------------------------------


def test_a_claimed_notification_is_left_alone_until_its_lease_runs_out(smtp, queued):
    assert delivery._claim(queued.pk) is not None  # a worker took it and is talking SMTP
    assert send(queued.pk) is None
    assert retry_due() == 0
    queued.refresh_from_db()
    assert queued.next_attempt_at > timezone.now() + delivery.lease() - timedelta(seconds=5)
    assert smtp.received == []
    make_due(queued)  # the worker died; the lease ran out
    assert retry_due() == 1
    assert len(smtp.received) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_never_send_one_notification_twice(settings):
    # Commit hooks run for real in this test: keep the outbox from queueing (and sending) on its own.
    settings.TIERDESK_EVENT_HANDLERS = []
    server = SMTPServer().start()
    use_smtp(settings, server.port)
    inside, release = threading.Event(), threading.Event()

    def slow():
        inside.set()
        release.wait(10)

    server.handler.before_data = slow
    try:
        ticket = make_ticket()
        item = Notification.objects.create(event=Event.objects.get(ticket=ticket), recipient=DANA,
                                           template="customer_created", language="en")
        results = {}

        def worker():
            try:
                results["first"] = send(item.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=worker)
        thread.start()
        assert inside.wait(10)
        results["second"] = send(item.pk)  # while the first is inside the SMTP conversation
        assert retry_due() == 0
        release.set()
        thread.join(10)
    finally:
        release.set()
        server.stop()

    assert results == {"first": "sent", "second": None}
    assert len(server.received) == 1
