"""Prometheus metrics at `/metrics`: django-prometheus's request counters and Tierdesk's own gauges.

The page is private. It is served only to a scraper that sends `Authorization: Bearer <METRICS_TOKEN>` or
connects from an address in METRICS_ALLOWED_IPS; with neither setting the page does not exist (404).

Our gauges are read from the database (and the broker) when the page is scraped, never kept in memory, so every
web process reports the same values and a restart loses nothing:

- `tierdesk_open_tickets{tier, status}`: the open backlog, from the ledger of `tickets.backlog`;
- `tierdesk_outbox_pending_events` and `tierdesk_outbox_oldest_pending_seconds`: events not yet handed to their
  subscribers, and how long the oldest has waited (grows while dispatch is stuck);
- `tierdesk_sla_checks_due` and `tierdesk_sla_oldest_due_seconds`: tickets whose SLA check is due, and how late
  the oldest is (stays under SLA_SWEEP_SECONDS plus one sweep while the sweep runs);
- `tierdesk_broker_queue_messages{queue}`: tasks waiting in the Celery queue.

With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR (an empty folder per start): every worker then writes
its counters there and any worker's answer adds them all up (see docs/operations.md).
"""
import hmac
import ipaddress
import logging
import os

import prometheus_client
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


@never_cache
@require_GET
def metrics(request):
    """The metrics in Prometheus's text format, for an authorised scraper only."""
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS):
        raise Http404
    if not (_has_token(request) or _from_allowed_address(request)):
        if settings.METRICS_TOKEN:
            response = HttpResponse(_("A valid bearer token is required."), status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(_("Metrics are not served to this address."), status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=prometheus_client.CONTENT_TYPE_LATEST)


def _has_token(request) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def _from_allowed_address(request) -> bool:
    """REMOTE_ADDR only: the peer that connected. X-Forwarded-For is written by clients and is never trusted."""
    if not settings.METRICS_ALLOWED_IPS:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS)


def exposition() -> bytes:
    """The process's (or, in multiprocess mode, all workers') metrics followed by Tierdesk's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(_gauges)


class TierdeskCollector:
    """Gauges read at scrape time. A part whose source is down is left out (and logged); the rest is served."""

    def collect(self):
        families = []
        try:
            families += _ticket_gauges()
        except DatabaseError as exc:
            logger.warning("Metrics: the database gauges are left out: %s", exc)
        try:
            families += _broker_gauges()
        except Exception as exc:  # any broker or transport failure; the scrape must still answer
            logger.warning("Metrics: the broker queue gauge is left out: %s", exc)
        yield from families


def _ticket_gauges() -> list:
    from tickets import backlog
    from tickets.models import Event, Ticket
    from tiers.selectors import tier_by_id

    now = timezone.now()
    open_tickets = GaugeMetricFamily(
        "tierdesk_open_tickets", "Open tickets per tier and status.", labels=["tier", "status"]
    )
    for (tier_id, status), count in sorted(backlog.counts().items(), key=lambda item: (item[0][0] or 0, item[0][1])):
        tier = tier_by_id(tier_id) if tier_id is not None else None
        open_tickets.add_metric([tier.code if tier else "", status], count)

    # Both read the partial index event_outbox (only the events not dispatched yet).
    pending = Event.objects.filter(dispatched_at__isnull=True)
    oldest_event = pending.order_by("id").values_list("at", flat=True).first()
    outbox_count = GaugeMetricFamily(
        "tierdesk_outbox_pending_events", "Events not yet handed to their subscribers (notifications, webhooks)."
    )
    outbox_count.add_metric([], pending.count())
    outbox_age = GaugeMetricFamily(
        "tierdesk_outbox_oldest_pending_seconds", "How long the oldest event not yet dispatched has waited."
    )
    outbox_age.add_metric([], _seconds_since(oldest_event, now))

    # Both read the partial index ticket_sla_due.
    due = Ticket.objects.filter(sla_next_check_at__lte=now)
    oldest_due = due.aggregate(oldest=Min("sla_next_check_at"))["oldest"]
    sla_due = GaugeMetricFamily("tierdesk_sla_checks_due", "Tickets whose SLA check (warning, deadline) is due.")
    sla_due.add_metric([], due.count())
    sla_age = GaugeMetricFamily(
        "tierdesk_sla_oldest_due_seconds",
        "How late the oldest due SLA check is; grows without bound when the SLA sweep does not run.",
    )
    sla_age.add_metric([], _seconds_since(oldest_due, now))
    return [open_tickets, outbox_count, outbox_age, sla_due, sla_age]


def _broker_gauges() -> list:
    from helpdesk.celery import app

    name = settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        try:
            waiting = connection.default_channel.queue_declare(queue=name, passive=True).message_count
        except connection.channel_errors:
            # Redis deletes a queue's list when it empties, and a queue no worker declared yet holds nothing.
            waiting = 0
    family = GaugeMetricFamily(
        "tierdesk_broker_queue_messages", "Tasks waiting in the Celery queue.", labels=["queue"]
    )
    family.add_metric([name], waiting)
    return [family]


def _seconds_since(moment, now) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment else 0.0


# auto_describe off: registering the collector must not query the database at import.
_gauges = prometheus_client.CollectorRegistry(auto_describe=False)
_gauges.register(TierdeskCollector())
