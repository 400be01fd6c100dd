"""The SLA sweep: find tickets with a warning or deadline due, and handle each exactly once.

Due work is found through the database (`sla_next_check_at`, partial index
ticket_sla_due), never held in the broker: a Redis restart loses nothing, the
next sweep finds the same rows. Batches are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` so any number of sweeps can run at once;
each ticket is then re-checked under its lock by `services.ticket_sla_check`.
"""
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tickets import outbox
from tickets.exceptions import TicketError
from tickets.models import Ticket
from tickets.services import ticket_sla_check

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
            claimed = list(
                due.select_for_update(skip_locked=True)
                .order_by("sla_next_check_at", "id")
                .values_list("sla_next_check_at", "id")[:batch]
            )
            for _due_at, ticket_id in claimed:
                try:
                    done = ticket_sla_check(ticket_id=ticket_id, now=now)
                except TicketError as exc:
                    logger.warning("SLA check of ticket %s refused: %s", ticket_id, exc)
                    continue
                counts["checked"] += 1
                counts["escalated"] += "escalated" in done
                counts["warnings"] += sum(item.endswith("_warning") for item in done)
                counts["breaches"] += sum(item.endswith("_breach") for item in done)
        if len(claimed) < batch:
            return counts
        after = claimed[-1]
