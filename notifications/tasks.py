"""Celery tasks for notifications: thin wrappers; the work and its safety live in `notifications.delivery`."""
from celery import shared_task

from notifications import delivery


@shared_task
def send_notification(notification_id: int) -> str | None:
    """Send one notification now (queued on commit by the outbox subscriber)."""
    return delivery.send(notification_id)


@shared_task
def retry_due() -> int:
    """Periodic (beat "notification-retries"): send what is due, including notifications whose message was lost."""
    return delivery.retry_due()
