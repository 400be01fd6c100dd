"""Notifications sent for events, as an outbox subscriber.

For now: SLA warnings go to the agents of the ticket's tier, SLA breaches to
the managers. Sending happens inside the outbox dispatch, so an SMTP failure
leaves the event undispatched and the drain tries again later.
"""
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import translation

from tickets.workflow import EventKind
from tiers.roles import MANAGERS_GROUP

logger = logging.getLogger(__name__)


def on_event(event) -> None:
    if event.kind == EventKind.SLA_WARNING:
        send_sla_mail(event, tier_agents(event.ticket.tier_id))
    elif event.kind == EventKind.SLA_BREACHED:
        send_sla_mail(event, managers())


def tier_agents(tier_id: int) -> list[str]:
    users = get_user_model().objects.filter(is_active=True, tier_memberships__tier_id=tier_id).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def managers() -> list[str]:
    users = get_user_model().objects.filter(Q(groups__name=MANAGERS_GROUP) | Q(is_superuser=True), is_active=True)
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))


def send_sla_mail(event, recipients: list[str]) -> int:
    if not recipients:
        return 0
    ticket = event.ticket
    with translation.override(settings.LANGUAGE_CODE):
        context = {"event": event, "ticket": ticket, "clock": event.data.get("clock"), "breach": event.kind == EventKind.SLA_BREACHED}
        subject = " ".join(render_to_string("email/sla_subject.txt", context).split())
        body = render_to_string("email/sla_body.txt", context)
    messages = [EmailMessage(subject, body, to=[address]) for address in recipients]
    return get_connection().send_messages(messages)
