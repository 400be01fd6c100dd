"""Private tracking links for customers, and single-use sign-in links for "my tickets".

A tracking token is HMAC-SHA256 (keyed by SECRET_KEY) over the ticket id and a
random 128-bit salt stored on the ticket: unguessable without both, never
stored itself (only its SHA-256, for lookup), and recomputable whenever an
e-mail needs the link. Rotating the salt revokes the link.
"""
import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare


def new_salt() -> str:
    return secrets.token_hex(16)  # 128 random bits


def tracking_token(ticket) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"track:{ticket.pk}:{ticket.tracking_salt}".encode(), hashlib.sha256)
    return urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tracking_path(ticket) -> str:
    return reverse("portal:track", args=[tracking_token(ticket)])


def tracking_url(ticket) -> str:
    return settings.SITE_URL.rstrip("/") + tracking_path(ticket)


def ticket_for_token(token: str):
    """The ticket this tracking token opens, or None. The lookup is by hash; the final check is constant-time."""
    from tickets.models import Ticket

    if not token or len(token) > 100:
        return None
    ticket = Ticket.objects.select_related("requester", "tier", "category").filter(
        tracking_token_hash=token_hash(token)
    ).first()
    if ticket is None or not constant_time_compare(tracking_token(ticket), token):
        return None
    return ticket
