"""Celery tasks: each takes ids, loads fresh rows, calls one service, and owns only its retry policy."""
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tickets import backlog, escalation, outbox
from tickets.exceptions import TicketError
from tickets.models import Ticket
from tickets.policy import Actor
from tickets.services import ticket_close
from tickets.workflow import Status

logger = logging.getLogger(__name__)

AUTO_CLOSE_BATCH = 500


@shared_task
def dispatch_events(event_ids: list[int]) -> int:
    """Dispatch each event once; one that fails stays in the outbox for the drain."""
    return outbox.drain_ids(event_ids)


@shared_task
def drain_outbox() -> int:
    return outbox.drain()


@shared_task
def compact_backlog() -> int:
    return backlog.compact()


@shared_task
def sla_sweep() -> dict:
    """Escalate tickets whose tier time is up, record SLA warnings and breaches, auto-close silent tickets."""
    counts = escalation.sweep()
    counts["auto_closed"] = auto_close_resolved()
    return counts


def auto_close_resolved() -> int:
    """Close tickets left `resolved` for AUTO_CLOSE_DAYS without an answer from the customer."""
    cutoff = timezone.now() - timedelta(days=settings.AUTO_CLOSE_DAYS)
    ids = list(
        Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff)
        .order_by("resolved_at")
        .values_list("id", flat=True)[:AUTO_CLOSE_BATCH]
    )
    closed = 0
    for ticket_id in ids:
        try:
            ticket_close(actor=Actor.system(), ticket_id=ticket_id)
        except TicketError as exc:
            # Reopened or closed by someone else since the query: the lock re-checked it.
            logger.info("Auto-close skipped %s: %s", ticket_id, exc)
        else:
            closed += 1
    return closed


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_portal_link(email: str, language: str) -> bool:
    from tickets.portal.signin import send_link

    return send_link(email, language)
