"""The event outbox: every event is handed to the subscribers once, after commit.

Events are published on commit (one Celery task per event) and, in case the
broker was down at that moment, picked up again by the periodic drain. A
dispatch locks the event row and marks it dispatched in the same transaction
as the subscribers run, so two workers never dispatch one event twice, and a
subscriber that fails leaves the event for the next drain.

Subscribers are dotted paths in ``settings.TIERDESK_EVENT_HANDLERS``: callables
taking an `Event`. They must be quick (write a row, enqueue a task).
"""
import logging
import threading
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from tickets.models import Event

logger = logging.getLogger(__name__)

DRAIN_BATCH = 500


_local = threading.local()
BULK_CHUNK = 200


def publish(event_id: int) -> None:
    """Ask a worker to dispatch the event. A broker outage loses nothing: the drain finds it later."""
    buffer = getattr(_local, "buffer", None)
    if buffer is not None:
        buffer.append(event_id)
        return
    _send([event_id])


@contextmanager
def publishing_in_bulk():
    """Publish the events committed inside this block as a few messages at its end, not one each.

    Only commit hooks call `publish`, so a rolled-back transaction or savepoint
    adds nothing to the buffer.
    """
    outer = getattr(_local, "buffer", None)
    _local.buffer = [] if outer is None else outer
    try:
        yield
    finally:
        if outer is None:
            ids, _local.buffer = _local.buffer, None
            for start in range(0, len(ids), BULK_CHUNK):
                _send(ids[start : start + BULK_CHUNK])


def _send(event_ids: list[int]) -> None:
    from tickets.tasks import dispatch_events

    try:
        dispatch_events.delay(event_ids)
    except Exception:  # the broker is unreachable; the stored event is the real queue
        logger.warning("Broker unavailable; events %s wait for the outbox drain.", event_ids, exc_info=True)


def dispatch(event_id: int) -> bool:
    """Run every subscriber for one event, once. True if this call dispatched it."""
    handlers = _handlers()
    with transaction.atomic():
        event = (
            Event.objects.select_for_update(skip_locked=True)
            .select_related("ticket")
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:  # already dispatched, or another worker holds it right now
            return False
        for handler in handlers:
            handler(event)
        Event.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
    return True


def pending_ids(limit: int = DRAIN_BATCH) -> list[int]:
    """Oldest events not yet dispatched (partial index event_outbox)."""
    return list(Event.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit])


def drain(limit: int = DRAIN_BATCH) -> int:
    """Dispatch what publishing missed. Returns how many events this call dispatched."""
    return drain_ids(pending_ids(limit))


def drain_ids(event_ids: list[int]) -> int:
    """Dispatch the given events, each on its own. Returns how many this call dispatched."""
    done = 0
    for event_id in event_ids:
        try:
            done += dispatch(event_id)
        except Exception:
            logger.exception("Dispatching event %s failed; it stays in the outbox.", event_id)
    return done


@cache
def _handlers_for(paths: tuple[str, ...]):
    return [import_string(path) for path in paths]


def _handlers():
    return _handlers_for(tuple(getattr(settings, "TIERDESK_EVENT_HANDLERS", ())))
