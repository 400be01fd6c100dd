"""Shared pieces of the "rows are the queue" pattern (webhook deliveries, e-mail notifications)."""
import logging
from collections.abc import Callable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


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
