"""Recording who looked at personal data: `record(request, action, ...)` writes one `AccessRecord`.

Called from the pages that show one customer's data to staff: the desk's ticket page, the API's ticket detail,
the admin's change pages of a ticket and of a requester, the desk's requester page, and by the export and
anonymisation services. Each call is one INSERT and nothing else: the ticket or requester is the row the view
has already read, the user is the request's, the address is REMOTE_ADDR (what the rate limits see too).

Lists (queues, search results, the API's ticket list, dashboard drill-downs and their CSV) are not recorded row
by row: a record per listed ticket would multiply the writes of the busiest pages by the page size, and a list
shows subjects and statuses, not a person's whole file. Looking a person up in a list and opening their ticket
is recorded when the ticket is opened.

This module imports no other app's code, so the ticket views can call it without an import cycle.
"""
import ipaddress
from dataclasses import dataclass

from privacy.models import AccessRecord, Action, Channel

__all__ = ["Action", "Channel", "Origin", "record", "write"]


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the channel (desk, API, admin, command line) and the client's address."""

    channel: str
    address: str | None = None

    @classmethod
    def of(cls, request, channel: str) -> "Origin":
        return cls(channel, client_address(request))

    @classmethod
    def command(cls) -> "Origin":
        return cls(Channel.COMMAND)


def client_address(request) -> str | None:
    """The peer's address, or None when it is not an IP address (a test client, a Unix socket)."""
    address = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def record(request, action: str, *, channel: str, ticket=None, requester=None, reason: str = "") -> AccessRecord:
    """Note that the request's user did `action` on this ticket and/or requester (one INSERT)."""
    return write(user=request.user, action=action, origin=Origin.of(request, channel), ticket=ticket,
                 requester=requester, reason=reason)


def write(*, user, action: str, origin: Origin, ticket=None, requester=None, reason: str = "") -> AccessRecord:
    """Insert one access record. A ticket's requester is recorded with it (from the row, no query)."""
    requester_id = requester.pk if requester is not None else getattr(ticket, "requester_id", None)
    return AccessRecord.objects.create(
        user=user,
        action=action,
        channel=origin.channel,
        address=origin.address,
        ticket_id=ticket.pk if ticket is not None else None,
        requester_id=requester_id,
        reason=reason,
    )
