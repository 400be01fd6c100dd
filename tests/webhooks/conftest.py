"""A real HTTP receiver on 127.0.0.1, and helpers to verify what it got as a receiver would."""
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from webhooks.models import Delivery, Webhook


@dataclass
class Received:
    path: str
    headers: dict  # lower-cased names
    body: bytes
    answered: int


class Receiver:
    """An HTTP server in a thread that records each POST and answers with scripted status codes.

    `answers` is consumed one per request; once empty, every request gets 200.
    Bind first and `start()` later to simulate a receiver that is down: a bound
    socket that is not listening refuses connections, and the port stays ours.
    """

    def __init__(self):
        self.received: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, answer)
                    )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = None

    def start(self):
        self.server.server_activate()  # listen()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self.server.shutdown()
            self._thread.join(5)
        self.server.server_close()


@pytest.fixture
def private_targets_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def down_receiver(private_targets_allowed):
    """A receiver whose port is reserved but not listening yet (connection refused)."""
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(down_receiver):
    return down_receiver.start()


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    settings.WEBHOOK_MAX_ATTEMPTS = 12


def make_webhook(url, *, user, kinds=(), is_active=True) -> Webhook:
    return Webhook.objects.create(url=url, kinds=list(kinds), is_active=is_active, created_by=user)


def make_due(delivery: Delivery) -> None:
    """Move a delivery's next attempt to now, as if its backoff had passed."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def verify_signature(secret: str, headers: dict, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does: parse t= and v1=, recompute the HMAC over "<t>." + raw body, compare in constant time."""
    fields = dict(item.split("=", 1) for item in headers["x-tierdesk-signature"].split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= tolerance
