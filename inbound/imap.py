"""Reading the support mailbox over IMAP.

`poll` logs in, selects the folder and fetches, in UID order, every message
above the highest UID already processed. Each message is handed to
`services.receive`, and the mailbox's high-water mark moves up in the same
transaction as the message's record. A poll cut off at any point (killed
worker, lost connection) therefore resumes after the last message it
finished, and a message it had fetched but not finished is processed once,
next time. Messages are read with ``BODY.PEEK`` and flagged ``\\Seen`` only
once they are processed, so a person looking at the mailbox sees what is done.

If the folder's UIDVALIDITY changes (the mailbox was rebuilt), the mark starts
again from zero; the Message-IDs already recorded keep old mail from being
processed twice.
"""
import contextlib
import logging
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from imapclient import IMAPClient

from inbound.models import InboundMessage, MailboxState
from inbound.services import receive

logger = logging.getLogger(__name__)

FETCH_BATCH = 20
SEEN = b"\\Seen"


class NotConfigured(Exception):
    """No IMAP host is set (INBOUND_IMAP_HOST)."""


@dataclass
class PollResult:
    fetched: int = 0
    processed: int = 0
    duplicates: int = 0
    too_large: int = 0

    def __str__(self):
        return (f"fetched {self.fetched}, processed {self.processed}, already seen {self.duplicates}, "
                f"too large {self.too_large}")


def mailbox_name() -> str:
    return f"{settings.INBOUND_IMAP_USER}@{settings.INBOUND_IMAP_HOST}:{settings.INBOUND_IMAP_PORT}/" \
           f"{settings.INBOUND_IMAP_FOLDER}"


def connect() -> IMAPClient:
    """A logged-in client for the configured mailbox (TLS: "ssl", "starttls" or "off")."""
    if not settings.INBOUND_IMAP_HOST:
        raise NotConfigured("INBOUND_IMAP_HOST is not set.")
    context = ssl.create_default_context(cafile=settings.INBOUND_IMAP_CA_FILE or None)
    client = IMAPClient(
        settings.INBOUND_IMAP_HOST,
        port=settings.INBOUND_IMAP_PORT,
        ssl=settings.INBOUND_IMAP_TLS == "ssl",
        ssl_context=context,
        timeout=settings.INBOUND_IMAP_TIMEOUT_SECONDS,
    )
    try:
        if settings.INBOUND_IMAP_TLS == "starttls":
            client.starttls(context)
        client.login(settings.INBOUND_IMAP_USER, settings.INBOUND_IMAP_PASSWORD)
    except Exception:
        _close(client)
        raise
    return client


def poll(limit: int | None = None) -> PollResult:
    """Process every new message in the folder (at most `limit`). Safe to run again at any time."""
    client = connect()
    try:
        return _poll(client, limit)
    finally:
        _close(client)


def _poll(client: IMAPClient, limit: int | None) -> PollResult:
    mailbox = mailbox_name()
    folder = client.select_folder(settings.INBOUND_IMAP_FOLDER)
    uidvalidity = int(folder[b"UIDVALIDITY"])
    state, _ = MailboxState.objects.get_or_create(mailbox=mailbox)
    if state.uidvalidity != uidvalidity:
        if state.uidvalidity:  # 0: the folder was never read before
            logger.warning("IMAP folder %s has a new UIDVALIDITY (%s, was %s): reading it from the start",
                           mailbox, uidvalidity, state.uidvalidity)
        MailboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
        state.last_uid = 0
    # "n:*" always matches the highest UID, even when it is below n.
    uids = sorted(uid for uid in client.search(["UID", f"{state.last_uid + 1}:*"]) if uid > state.last_uid)
    if limit is not None:
        uids = uids[:limit]
    result = PollResult()
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        sizes = client.fetch(batch, ["RFC822.SIZE"])
        small = [uid for uid in batch
                 if sizes.get(uid, {}).get(b"RFC822.SIZE", 0) <= settings.INBOUND_MAX_MESSAGE_BYTES]
        bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        for uid in batch:
            refuse = ""
            if uid in bodies:
                raw = bodies[uid][b"BODY[]"]
            else:
                # Too large to take in: its headers wait in the quarantine.
                result.too_large += 1
                raw = client.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
                refuse = (f"The message is {sizes[uid][b'RFC822.SIZE']} bytes, over INBOUND_MAX_MESSAGE_BYTES "
                          f"({settings.INBOUND_MAX_MESSAGE_BYTES}); only its headers were kept.")
            result.fetched += 1
            with transaction.atomic():
                _, new = receive(raw, source=InboundMessage.Source.IMAP, mailbox=mailbox,
                                 uidvalidity=uidvalidity, uid=uid, refuse=refuse)
                MailboxState.objects.filter(pk=state.pk, last_uid__lt=uid).update(last_uid=uid)
            result.processed += new
            result.duplicates += not new
            # Flagged as soon as its transaction is committed: a poll cut off later leaves no processed
            # message unflagged (the next poll starts above the mark and never sees it again).
            client.add_flags([uid], [SEEN], silent=True)
    MailboxState.objects.filter(pk=state.pk).update(polled_at=timezone.now())
    if result.fetched:
        logger.info("IMAP %s: %s", mailbox, result)
    return result


def _close(client: IMAPClient) -> None:
    """Log out, ignoring any failure: it runs while another error may be on its way up (which must not be
    replaced), and the connection is dropped either way."""
    with contextlib.suppress(Exception):
        client.logout()
