"""The SLA sweep: find tickets with a warning or deadline due, and handle each exactly once.

Due work is found through the database (`sla_next_check_at`, partial index
ticket_sla_due), never held in the broker: a Redis restart loses nothing, the
next sweep finds the same rows. Batches are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` so any number of sweeps can run at once;
each ticket is then re-checked under its lock by `services.ticket_sla_check`.
"""
import logging

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from tickets import outbox
from tickets.exceptions import TicketError
from tickets.models import Ticket
from tickets.services import events_in_bulk, sla_check_locked, ticket_sla_check

logger = logging.getLogger(__name__)

BATCH = 100


def sweep(*, now=None, batch: int = BATCH) -> dict:
    """Handle every ticket whose next SLA point is due. Returns counts of what was done."""
    now = now or timezone.now()
    counts = {"checked": 0, "escalated": 0, "warnings": 0, "breaches": 0}
    # Keyset pagination over (sla_next_check_at, id): a ticket whose check
    # failed keeps its due time, and must not be picked again in this sweep.
    after = None
    while True:
        with outbox.publishing_in_bulk(), transaction.atomic():
            due = Ticket.objects.filter(sla_next_check_at__lte=now)
            if after is not None:
                due = due.filter(
                    Q(sla_next_check_at__gt=after[0]) | Q(sla_next_check_at=after[0], id__gt=after[1])
                )
            # Whole rows, locked: each is checked as read, without a second read or a savepoint of its own.
            claimed = list(due.select_for_update(skip_locked=True).order_by("sla_next_check_at", "id")[:batch])
            last = (claimed[-1].sla_next_check_at, claimed[-1].pk) if claimed else None
            try:
                with transaction.atomic(), events_in_bulk():
                    done = [sla_check_locked(ticket, now=now) for ticket in claimed]
            except (TicketError, DatabaseError) as exc:
                # One ticket of the batch failed (the batch's writes are undone): check each on its own, so
                # that one bad ticket costs only itself.
                logger.warning("SLA sweep batch failed (%s); checking its tickets one by one", exc)
                done = [_one_by_one(ticket.pk, now) for ticket in claimed]
            for items in done:
                if items is None:
                    continue
                counts["checked"] += 1
                counts["escalated"] += "escalated" in items
                counts["warnings"] += sum(item.endswith("_warning") for item in items)
                counts["breaches"] += sum(item.endswith("_breach") for item in items)
        if len(claimed) < batch:
            return counts
        after = last


def _one_by_one(ticket_id: int, now) -> list[str] | None:
    try:
        return ticket_sla_check(ticket_id=ticket_id, now=now)
    except TicketError as exc:
        logger.warning("SLA check of ticket %s refused: %s", ticket_id, exc)
        return None
