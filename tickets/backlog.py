"""The open tickets per tier and status, counted as they change (model `BacklogChange`).

The services call `moved()` in the transaction that changes a ticket's tier or status, so the desk's summary
reads a handful of ledger rows (`counts()`) instead of counting the whole open backlog on every page view.
Writes that bypass the services (the benchmark seeder's COPY) call `rebuild()` afterwards.
"""
import threading
from collections import Counter
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Count, Sum

from tickets.models import BacklogChange, Ticket
from tickets.workflow import OPEN_STATUSES

_batch = threading.local()


def moved(*, from_tier_id=None, from_status="", to_tier_id=None, to_status="") -> None:
    """Record one ticket leaving the cell (from_tier_id, from_status) for (to_tier_id, to_status); a side that
    is not an open status (or empty, for a new ticket) counts nothing."""
    delta = Counter()
    if from_status in OPEN_STATUSES:
        delta[(from_tier_id, from_status)] -= 1
    if to_status in OPEN_STATUSES:
        delta[(to_tier_id, to_status)] += 1
    pending = getattr(_batch, "delta", None)
    if pending is not None:
        pending.update(delta)
        return
    _write(delta)


@contextmanager
def in_bulk():
    """Write the changes recorded inside this block as one net row per cell at its end (the SLA sweep's
    batches); the caller's transaction covers both."""
    if getattr(_batch, "delta", None) is not None:
        yield
        return
    _batch.delta = Counter()
    try:
        yield
        _write(_batch.delta)
    finally:
        _batch.delta = None


def _write(delta: Counter) -> None:
    rows = [BacklogChange(tier_id=tier_id, status=status, delta=n) for (tier_id, status), n in delta.items() if n]
    if rows:
        BacklogChange.objects.bulk_create(rows)


def counts() -> dict:
    """{(tier id, status): open tickets}, cells with none left out (one query over the ledger's few rows)."""
    rows = BacklogChange.objects.values("tier_id", "status").annotate(n=Sum("delta")).order_by()
    return {(row["tier_id"], row["status"]): row["n"] for row in rows if row["n"]}


def compact() -> int:
    """Fold the ledger into one row per cell; returns how many rows were folded.

    DELETE … RETURNING takes exactly the rows committed when it starts: a writer's row committed meanwhile is
    neither deleted nor summed, and a second compaction running at once skips the rows the first one took.
    """
    table = BacklogChange._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            sql = f"DELETE FROM {table} RETURNING tier_id, status, delta"  # noqa: S608 - our table  # nosec B608
            cursor.execute(sql)
            rows = cursor.fetchall()
        totals = Counter()
        for tier_id, status, n in rows:
            totals[(tier_id, status)] += n
        _write(totals)
    return len(rows)


def rebuild() -> None:
    """Count the open tickets afresh. On PostgreSQL the ledger is locked against writers first: a change
    committed before the count is in it, one committed after adds its row after the new totals."""
    table = BacklogChange._meta.db_table
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        BacklogChange.objects.all().delete()
        rows = (
            Ticket.objects.filter(status__in=OPEN_STATUSES).values("tier_id", "status").annotate(n=Count("*"))
            .order_by()
        )
        _write(Counter({(row["tier_id"], row["status"]): row["n"] for row in rows}))
