"""A real SMTP server on 127.0.0.1 (aiosmtpd), a port where nobody listens, and helpers to read what arrived."""
import email
import email.policy
import socket
import threading
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from notifications.models import Notification


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        # A long or encoded subject is folded right after "Subject:"; unfolding leaves a leading space.
        return str(self.message["Subject"]).strip()

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


class Collector:
    """The aiosmtpd handler: keeps every accepted message; `rcpt_answers` scripts refusals of RCPT TO."""

    def __init__(self):
        self.received: list[Received] = []
        self.rcpt_answers: list[str] = []
        self.before_data = None  # called (blocking) before a message is accepted
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            answer = self.rcpt_answers.pop(0) if self.rcpt_answers else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.before_data:
            self.before_data()
        with self._lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SMTPServer:
    def __init__(self):
        self.handler = Collector()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def to(self, address: str) -> list[Received]:
        return [got for got in self.received if got.rcpt_tos == [address]]

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp_server():
    """A running SMTP server (not yet used by Django)."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """Django sends real SMTP to the running server."""
    use_smtp(settings, smtp_server.port)
    return smtp_server


@pytest.fixture
def smtp_down(settings):
    """Django sends to a port that is bound but not listening: every connection is refused."""
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    use_smtp(settings, reserved.getsockname()[1])
    yield reserved
    reserved.close()


@pytest.fixture
def outbox_runs(django_capture_on_commit_callbacks):
    """Run what commit hooks would run: outbox dispatch, then the (eager) send tasks."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_due(notification) -> None:
    """Move a notification's next attempt to now, as if its backoff had passed."""
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())


def notified(ticket, kind=None) -> list[tuple[str, str]]:
    """(recipient, template) of every notification about the ticket (or one kind of its events), sorted."""
    rows = Notification.objects.filter(event__ticket=ticket)
    if kind is not None:
        rows = rows.filter(event__kind=kind)
    return sorted(rows.values_list("recipient", "template"))
