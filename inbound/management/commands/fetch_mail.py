"""`manage.py fetch_mail`: read the support mailbox once (for cron), or take messages from files or stdin."""
import sys

from django.core.management.base import BaseCommand, CommandError

from inbound import imap
from inbound.models import InboundMessage
from inbound.services import receive


class Command(BaseCommand):
    help = ("Process new mail in the IMAP mailbox (INBOUND_IMAP_*), or the given .eml files, "
            "or one message on standard input (for an MTA's pipe delivery).")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Raw messages (.eml) to process instead of the mailbox.")
        parser.add_argument("--stdin", action="store_true", help="Read one raw message from standard input.")
        parser.add_argument("--limit", type=int, default=None, help="Process at most this many mailbox messages.")

    def handle(self, *args, files, stdin, limit, **options):
        if stdin or files:
            sources = [("-", sys.stdin.buffer.read())] if stdin else [(name, _read(name)) for name in files]
            for name, raw in sources:
                record, new = receive(raw, source=InboundMessage.Source.COMMAND)
                state = record.get_outcome_display() if new else "already processed"
                self.stdout.write(f"{name}: {state}{f' ({record.ticket.reference})' if record.ticket else ''}")
            return
        try:
            result = imap.poll(limit=limit)
        except imap.NotConfigured as exc:
            raise CommandError(f"{exc} Set INBOUND_IMAP_HOST, INBOUND_IMAP_USER and INBOUND_IMAP_PASSWORD.") from exc
        self.stdout.write(str(result))


def _read(name: str) -> bytes:
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CommandError(f"Cannot read {name}: {exc.strerror}") from exc
