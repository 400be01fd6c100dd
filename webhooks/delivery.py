"""Queue, sign and send webhook deliveries.

The flow:

1. `on_event` is an outbox subscriber (settings.TIERDESK_EVENT_HANDLERS). It
   runs inside the outbox transaction and only writes `Delivery` rows, then
   asks Celery to send them once that transaction has committed.
2. `attempt` sends one delivery. The database row is the source of truth: a
   delivery is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease
   (its next attempt time moves past the longest possible call), so two
   workers (a `deliver` task and the retry sweep, say) never send the same
   delivery at once, and no lock is held during the HTTP call.
3. `retry_due` is the periodic sweep. It finds whatever is due, including
   deliveries whose Celery message was lost (broker down, worker killed).

Receivers verify ``X-Tierdesk-Signature: t=<unix time>,v1=<hex>``, where
``v1 = HMAC-SHA256(key=secret as UTF-8, msg=f"{t}." + raw body)``, and should
deduplicate on ``X-Tierdesk-Delivery`` (delivery is at least once: a worker
that dies after the receiver answered but before the commit sends again).

SSRF: a webhook URL is a server-side fetch of a user-supplied URL.
`check_target` refuses non-public addresses at registration and again before
every attempt, and the request is then sent to exactly the address that was
checked (see `_post`), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect it to an internal host.
"""
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from requests.adapters import HTTPAdapter
from rest_framework.fields import DateTimeField

from tickets import retries
from tickets.models import Event, format_reference
from webhooks.models import ERROR_MAX_LENGTH, Attempt, Delivery, Webhook

logger = logging.getLogger(__name__)

USER_AGENT = "Tierdesk-Webhooks/1"
SIGNATURE_HEADER = "X-Tierdesk-Signature"
RETRY_BATCH = 100
DEFAULT_PORTS = {"http": 80, "https": 443}
_API_DATETIME = DateTimeField()


# --- Queueing ---------------------------------------------------------------


def on_event(event: Event) -> None:
    """Outbox subscriber: queue one delivery per interested active webhook.

    Quick by design (the outbox holds the event's row lock while it runs):
    it writes rows and enqueues tasks; the HTTP calls happen in workers.
    """
    # Few webhooks exist; filtering `kinds` in Python keeps this portable
    # (SQLite has no JSON containment lookup).
    for webhook in Webhook.objects.filter(is_active=True).only("id", "kinds"):
        if not webhook.wants(event.kind):
            continue
        # get_or_create on the unique pair: if the outbox runs this event again
        # (a later subscriber failed), the delivery is not queued twice.
        delivery, created = Delivery.objects.get_or_create(webhook_id=webhook.pk, event_id=event.pk)
        if created:
            from webhooks.tasks import deliver

            retries.enqueue_after_commit(deliver, delivery.pk, what="webhook delivery")


# --- What is sent -------------------------------------------------------------


def payload(event: Event) -> dict:
    """The event as JSON-able data, in the shape of the API's event timeline."""
    if event.actor_id:
        actor = event.actor.get_username()
    elif event.actor_requester_id:
        actor = event.actor_requester.email
    else:
        # The role's value ("system"), not its translated label: receivers are programs.
        actor = event.actor_role
    return {
        "id": event.pk,
        "kind": event.kind,
        "at": _API_DATETIME.to_representation(event.at),  # ISO 8601, exactly as the API writes it
        "ticket": {"id": event.ticket_id, "reference": format_reference(event.ticket_id)},
        "actor": actor,
        "actor_role": event.actor_role,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "from_tier": event.from_tier.code if event.from_tier_id else None,
        "to_tier": event.to_tier.code if event.to_tier_id else None,
        "reason": event.reason,
        "data": event.data,
    }


def encode(data: dict) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body``.

    The timestamp is signed so that a receiver can refuse an old, captured request replayed later.
    """
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def headers_for(delivery: Delivery, kind: str, secret: str, body: bytes, timestamp: int) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tierdesk-Event": kind,
        "X-Tierdesk-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: f"t={timestamp},v1={sign(secret, timestamp, body)}",
    }


# --- SSRF guard ----------------------------------------------------------------


class TargetRefused(ValueError):
    """The URL may not be called: wrong scheme, no host, or a non-public address."""


def check_target(url: str) -> list[str]:
    """Resolve the URL's host and return its addresses, or raise `TargetRefused`.

    Every address the name resolves to must be public: an attacker controls
    their DNS and could list one public and one internal address.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("The URL is malformed.") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise TargetRefused("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be stored and listed in the clear; receivers check the signature instead.
        raise TargetRefused("Credentials in the URL are not allowed; verify the signature instead.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port or DEFAULT_PORTS[parts.scheme], type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(f"The host {parts.hostname!r} could not be resolved.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise TargetRefused(f"The host {parts.hostname!r} could not be resolved.")
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False):
        for address in addresses:
            problem = _non_public(address)
            if problem:
                raise TargetRefused(f"The host {parts.hostname!r} resolves to {address}, {problem}; refused.")
    return addresses


def _non_public(address: str) -> str:
    """Why an address is not a public one ("" if it is)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    # Most specific first: Python counts 0.0.0.0/8 and 240.0.0.0/4 as "private" too.
    for flag, label in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_unspecified", "an unspecified address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(ip, flag):
            return label
    # Catches the rest of the special ranges too (e.g. 100.64.0.0/10, carrier-grade NAT).
    if not ip.is_global:
        return "not a public address"
    return ""


# --- Sending -------------------------------------------------------------------


def attempt(delivery_id: int) -> str | None:
    """Try to send one delivery if it is pending and due. Returns its new status, or None if nothing was sent.

    Never raises for a network problem: every outcome becomes an `Attempt` row.
    """
    with transaction.atomic():
        # The claim. SKIP LOCKED: a delivery another worker is claiming right
        # now is not ours. Instead of holding the row lock through the HTTP
        # call (on SQLite that would block every writer), the claim takes a
        # lease: next_attempt_at moves past the longest call, so neither the
        # retry sweep nor another worker picks the delivery meanwhile, and a
        # worker that dies mid-call only delays it until the lease runs out.
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if delivery is None:
            return None
        webhook = Webhook.objects.get(pk=delivery.webhook_id)
        if not webhook.is_active:
            return None  # left pending; the sweep ignores inactive webhooks
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + lease())
        event = Event.objects.select_related("actor", "actor_requester", "from_tier", "to_tier").get(
            pk=delivery.event_id
        )

    body = encode(payload(event))
    timestamp = int(time.time())
    started_at = timezone.now()
    started = time.monotonic()
    headers = headers_for(delivery, event.kind, webhook.secret, body, timestamp)
    status_code, error = _send(webhook.url, body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    finished_at = timezone.now()

    with transaction.atomic():
        Attempt.objects.create(
            delivery=delivery,
            at=started_at,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error[:ERROR_MAX_LENGTH],
        )
        delivery.attempts += 1
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = Delivery.Status.DELIVERED
            delivery.delivered_at = finished_at
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = Delivery.Status.FAILED
            logger.warning("Webhook delivery %s failed for good after %s attempts.", delivery.pk, delivery.attempts)
        else:
            delivery.next_attempt_at = finished_at + backoff(delivery.attempts)
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    return delivery.status


def lease() -> timedelta:
    """How long a claimed delivery is left alone: longer than any call can take (connect + read timeouts)."""
    return timedelta(seconds=3 * settings.WEBHOOK_TIMEOUT_SECONDS + 30)


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: base, 2×base, 4×base, … capped."""
    return retries.backoff(
        attempts, base=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS
    )


def _send(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    """POST the body. Returns (status code, "") for any HTTP answer, or (None, why) if there was none."""
    try:
        addresses = check_target(url)  # again at send time: DNS may have changed since registration
    except TargetRefused as exc:
        return None, f"Target refused: {exc}"
    try:
        status_code = _post(url, addresses[0], body, headers)
    except requests.Timeout:
        return None, f"Timeout: no answer within {settings.WEBHOOK_TIMEOUT_SECONDS} s."
    except requests.ConnectionError as exc:
        return None, f"Connection failed{_os_reason(exc)}."
    except Exception as exc:  # any other failure is a failed attempt too, never a crashed task
        # Only the type: exception texts from requests quote the URL, which may carry a token.
        return None, f"Request failed: {type(exc).__name__}."
    if 200 <= status_code < 300:
        return status_code, ""
    return status_code, f"HTTP {status_code}"


def _post(url: str, address: str, body: bytes, headers: dict) -> int:
    """POST to `address` (checked by `check_target`) while speaking to the URL's host name.

    The request goes to the IP literal, with the original ``Host`` header; for
    https, TLS still sends and verifies the real host name (SNI and
    certificate). So the name is resolved once, by the check, and never again.
    """
    parts = urlsplit(url)
    host = parts.hostname.encode("idna").decode("ascii") if not _is_ip(parts.hostname) else parts.hostname
    ip_host = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    pinned_url = urlunsplit((parts.scheme, ip_host + port, parts.path or "/", parts.query, ""))
    host_header = (f"[{host}]" if ":" in host else host) + port

    with requests.Session() as session:
        # No proxies, .netrc credentials or CA bundles from the environment: a
        # proxy would resolve the name again, and .netrc could leak credentials.
        session.trust_env = False
        if parts.scheme == "https":
            session.mount("https://", _PinnedTLSAdapter(host))
        response = session.post(
            pinned_url,
            data=body,
            headers={**headers, "Host": host_header},
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,  # a redirect could point anywhere, including inside our network
            stream=True,  # only the status matters; never read an arbitrarily large body
        )
        response.close()
        return response.status_code


class _PinnedTLSAdapter(HTTPAdapter):
    """Connects to an IP literal but checks the certificate (and sends SNI) for the real host name."""

    def __init__(self, hostname: str, **kwargs):
        self._hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _os_reason(exc: BaseException) -> str:
    """The socket-level reason inside a requests error (": Connection refused").

    requests and urllib3 wrap it several layers deep, in messages that quote
    the URL; only the operating system's own words are kept.
    """
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return f": {current.strerror}"
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps the cause here
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend([reason if isinstance(reason, BaseException) else None, current.__cause__, current.__context__])
    return ""


# --- The retry sweep -------------------------------------------------------------


def retry_due(*, batch: int = RETRY_BATCH) -> int:
    """Attempt every pending delivery that is due, oldest first. Returns how many attempts were made."""
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, webhook__is_active=True)
    return retries.retry_due(pending, attempt, batch=batch, what="Webhook delivery")
