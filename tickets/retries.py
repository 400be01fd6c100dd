"""Shared pieces of the "rows are the queue" pattern (webhook deliveries, e-mail notifications)."""
import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


def enqueue_after_commit(task, row_id: int, *, what: str) -> None:
    """After the current transaction commits, ask a worker to process one row.

    A broker outage loses nothing: the row itself is the queue, and the
    periodic retry sweep picks it up.
    """

    def send():
        try:
            task.delay(row_id)
        except Exception:  # broker unreachable
            logger.warning("Broker unavailable; %s %s waits for the retry sweep.", what, row_id, exc_info=True)

    transaction.on_commit(send)


def backoff(attempts: int, *, base: int, cap: int) -> timedelta:
    """Wait after the n-th failed attempt: base, 2×base, 4×base, … capped at `cap` seconds."""
    # Cap the exponent too, so a large attempt count can't build a huge integer.
    return timedelta(seconds=min(base * 2 ** min(max(attempts, 1) - 1, 62), cap))


def retry_due(due, attempt: Callable[[int], object], *, batch: int, what: str) -> int:
    """Call `attempt(id)` for every row of `due` whose `next_attempt_at` has come, oldest first.

    Keyset pagination over (next_attempt_at, id) with a fixed `now`: a row that
    fails moves into the future and one another worker holds is skipped, so
    neither is picked twice in one sweep. Returns how many attempts were made.
    """
    now = timezone.now()
    due = due.filter(next_attempt_at__lte=now)
    made = 0
    after = None
    while True:
        page = due
        if after is not None:
            page = due.filter(Q(next_attempt_at__gt=after[0]) | Q(next_attempt_at=after[0], id__gt=after[1]))
        rows = list(page.order_by("next_attempt_at", "id").values_list("next_attempt_at", "id")[:batch])
        for _due_at, row_id in rows:
            try:
                made += attempt(row_id) is not None
            except Exception:  # a database problem with one row must not stop the sweep
                logger.exception("%s %s could not be attempted.", what, row_id)
        if len(rows) < batch:
            return made
        after = rows[-1]
