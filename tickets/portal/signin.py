"""Single-use, short-lived sign-in links for a customer's "my tickets" page."""
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from tickets.models import PortalLink, Requester
from tickets.portal.tokens import token_hash

logger = logging.getLogger(__name__)


def request_link(email: str, *, language: str) -> None:
    """Queue the sign-in mail; whether the address is known is decided in the worker, not in the request."""
    from tickets.tasks import send_portal_link

    try:
        send_portal_link.delay(email.strip().lower(), language)
    except Exception:  # broker unreachable: the customer may ask again
        logger.warning("Broker unavailable; a portal sign-in link was not queued.", exc_info=True)


def send_link(email: str, language: str) -> bool:
    """Create a link and mail it, if `email` belongs to a requester. Returns whether a mail was sent."""
    requester = Requester.objects.filter(email=email).first()
    if requester is None:
        return False
    token = secrets.token_urlsafe(32)
    PortalLink.objects.create(
        requester=requester,
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(minutes=settings.PORTAL_LINK_MINUTES),
    )
    url = settings.SITE_URL.rstrip("/") + reverse("portal:mine-signin", args=[token])
    with translation.override(requester.language or language or settings.LANGUAGE_CODE):
        context = {"url": url, "minutes": settings.PORTAL_LINK_MINUTES}
        subject = " ".join(render_to_string("support/email/signin_subject.txt", context).split())
        message = EmailMultiAlternatives(subject, render_to_string("support/email/signin.txt", context),
                                         to=[requester.email])
        message.attach_alternative(render_to_string("support/email/signin.html", context), "text/html")
    message.send()
    return True


def use_link(token: str):
    """The requester a valid, unused, unexpired link belongs to — and the link is used up. Else None."""
    if not token or len(token) > 100:
        return None
    link = PortalLink.objects.select_related("requester").filter(token_hash=token_hash(token)).first()
    now = timezone.now()
    if link is None or link.expires_at <= now:
        return None
    # Single use, even when the link is opened twice at once.
    if not PortalLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
        return None
    return link.requester
