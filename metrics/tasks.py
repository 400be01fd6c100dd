"""Celery tasks of the metrics app."""
from celery import shared_task

from metrics import rollups


@shared_task
def refresh_rollups() -> dict:
    """Bring the daily rollups up to date with the event log (idempotent; one runs at a time), then, if rows
    were rewritten, read the dashboard's standard periods so the cache holds what they derive from them."""
    from metrics.dashboard import warm

    result = rollups.refresh()
    if result.get("rebuilt") or result.get("days"):
        result["warmed"] = warm()
    return result
