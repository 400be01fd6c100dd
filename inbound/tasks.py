"""The beat task that reads the support mailbox (scheduled only when INBOUND_IMAP_HOST is set)."""
import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from inbound import imap

logger = logging.getLogger(__name__)

LOCK_KEY = "inbound:imap-poll"


@shared_task(ignore_result=True)
def fetch_mail():
    """One poll of the mailbox. Polls do not overlap; a poll that dies frees the lock when it times out."""
    token = uuid.uuid4().hex
    if not cache.add(LOCK_KEY, token, timeout=settings.INBOUND_POLL_LOCK_SECONDS):
        logger.info("An IMAP poll is still running; this one is skipped.")
        return None
    try:
        return str(imap.poll())
    finally:
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)
