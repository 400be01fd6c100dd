"""Celery tasks of the metrics app."""
from celery import shared_task

from metrics import rollups


@shared_task
def refresh_rollups() -> dict:
    """Bring the daily rollups up to date with the event log (idempotent; one runs at a time)."""
    return rollups.refresh()
