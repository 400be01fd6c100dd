"""Recording that an agent has a ticket open, and reading who else has.

A heartbeat is one upsert of the agent's row and one select of the others'
recent rows; nothing here touches the ticket, so presence never makes an
agent's open forms stale.
"""
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from presence.models import Presence

# Seconds after its last heartbeat that a page still counts as open (the page beats every ~5 s).
WINDOW_SECONDS = 20
# Rows older than this are deleted; they only ever answer "who is here now".
KEEP_SECONDS = 600
# One heartbeat in this many also deletes the old rows: no scheduled job is needed for a table this small
# (0: never; `presence_purge` may then be run another way).
PURGE_ONE_IN = 50


def _setting(name: str, default: int) -> int:
    # Read at call time (never at import), so deployments and tests can change them.
    return int(getattr(settings, name, default))


def presence_beat(*, user, ticket_id: int, typing: bool, now=None) -> list[dict]:
    """Record that `user` has the ticket open (and whether they are typing); return the others seen recently.

    The answer lists every other agent whose page beat within PRESENCE_WINDOW_SECONDS, as
    ``{"name", "typing"}`` sorted by name; the caller never sees themselves. The caller must already be
    allowed to see the ticket (see `presence.views`).
    """
    now = now or timezone.now()
    Presence.objects.bulk_create(
        [Presence(ticket_id=ticket_id, user=user, typing=bool(typing), seen_at=now)],
        update_conflicts=True,
        unique_fields=["ticket", "user"],
        update_fields=["typing", "seen_at"],
    )
    one_in = _setting("PRESENCE_PURGE_ONE_IN", PURGE_ONE_IN)
    if one_in > 0 and secrets.randbelow(one_in) == 0:
        presence_purge(now=now)
    since = now - timedelta(seconds=_setting("PRESENCE_WINDOW_SECONDS", WINDOW_SECONDS))
    rows = (
        Presence.objects.filter(ticket_id=ticket_id, seen_at__gte=since)
        .exclude(user=user)
        .values_list("user__username", "user__first_name", "user__last_name", "typing")
    )
    others = [
        {"name": f"{first} {last}".strip() or username, "typing": is_typing}
        for username, first, last, is_typing in rows
    ]
    return sorted(others, key=lambda other: other["name"].casefold())


def presence_purge(*, now=None) -> int:
    """Delete presence rows older than PRESENCE_KEEP_SECONDS; returns how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=_setting("PRESENCE_KEEP_SECONDS", KEEP_SECONDS))
    deleted, _ = Presence.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
