"""Celery tasks for webhooks: thin wrappers; the work and its safety live in `webhooks.delivery`."""
from celery import shared_task

from webhooks import delivery


@shared_task
def deliver(delivery_id: int) -> str | None:
    """Send one delivery now (queued on commit by the outbox subscriber)."""
    return delivery.attempt(delivery_id)


@shared_task
def retry_due() -> int:
    """Periodic (beat "webhook-retries"): send what is due, including deliveries whose message was lost."""
    return delivery.retry_due()
