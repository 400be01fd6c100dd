"""Who is mailed about which event: the outbox subscriber of the notifications app.

`on_event` runs inside the outbox's dispatch transaction (settings
TIERDESK_EVENT_HANDLERS), so it only decides and writes `Notification` rows;
once that transaction commits, each new row is handed to a Celery task. If the
broker is down the row waits for the retry sweep (`notifications.delivery`).

The rules:

* the customer (the ticket's requester, in their language): a new ticket, a
  public staff reply, "we need your answer", "resolved — please confirm",
  "closed", and "merged into <the primary>" (once, on the duplicate's `merged`
  event; the primary's `merged_in` mails nobody). Never anything about an
  internal note.
* staff (each in their own language): the new assignee of an assignment; the
  assignee, or every agent of the ticket's tier while it has none, when the
  customer replies; the tier's agents at an SLA warning; the managers at an
  SLA breach. Never the actor of the event, never a user without an e-mail.
"""
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from notifications import messages as m
from notifications.models import Notification
from tickets import retries
from tickets.models import Comment, Event
from tickets.workflow import EventKind
from tiers.roles import MANAGERS_GROUP, Role

logger = logging.getLogger(__name__)

CUSTOMER_MAILS = {
    EventKind.CREATED: m.CUSTOMER_CREATED,
    EventKind.WAITING: m.CUSTOMER_WAITING,
    EventKind.RESOLVED: m.CUSTOMER_RESOLVED,
    EventKind.CLOSED: m.CUSTOMER_CLOSED,
    EventKind.MERGED: m.CUSTOMER_MERGED,
}


@dataclass(frozen=True)
class Mail:
    recipient: str
    language: str
    template: str


def on_event(event: Event) -> None:
    """Outbox subscriber: write one notification per mail this event calls for, and queue each after commit."""
    for mail in plan(event):
        # get_or_create on the unique triple: if the outbox runs this event
        # again, nobody is mailed twice.
        notification, created = Notification.objects.get_or_create(
            event_id=event.pk, recipient=mail.recipient, template=mail.template, defaults={"language": mail.language}
        )
        if created:
            from notifications.tasks import send_notification

            retries.enqueue_after_commit(send_notification, notification.pk, what="notification")


# --- the rules -----------------------------------------------------------------------


def plan(event: Event) -> list[Mail]:
    """Every mail this event calls for, without duplicates (one address gets one mail per template)."""
    mails = _customer_mails(event) + _staff_mails(event)
    seen, unique = set(), []
    for mail in mails:
        key = (mail.recipient.lower(), mail.template)
        if key not in seen:
            seen.add(key)
            unique.append(mail)
    return unique


def _customer_mails(event: Event) -> list[Mail]:
    template = CUSTOMER_MAILS.get(event.kind)
    if event.kind == EventKind.COMMENTED and _is_public_staff_reply(event):
        template = m.CUSTOMER_REPLY
    if template is None:
        return []
    requester = event.ticket.requester
    if not requester.email:
        return []
    return [Mail(requester.email, m.language_or_default(requester.language), template)]


def _is_public_staff_reply(event: Event) -> bool:
    data = event.data or {}
    # `internal` must be present and false: an event that does not say is treated as a note.
    if data.get("internal") is not False or data.get("author_role") not in m.STAFF_AUTHORS:
        return False
    # The comment row itself has the last word.
    return Comment.objects.filter(pk=data.get("comment_id"), ticket_id=event.ticket_id, internal=False).exists()


def _staff_mails(event: Event) -> list[Mail]:
    users = get_user_model().objects.none()
    template = None
    ticket = event.ticket
    tier_id = event.to_tier_id or ticket.tier_id
    if event.kind == EventKind.ASSIGNED:
        template = m.AGENT_ASSIGNED
        username = (event.data or {}).get("assignee")
        users = _users().filter(**({"username": username} if username else {"pk": ticket.assignee_id}))
    elif event.kind == EventKind.COMMENTED and (event.data or {}).get("author_role") == Role.CUSTOMER:
        template = m.AGENT_CUSTOMER_REPLIED
        if ticket.assignee_id:
            users = _users().filter(pk=ticket.assignee_id)
        else:
            users = _users().filter(tier_memberships__tier_id=tier_id)
    elif event.kind == EventKind.SLA_WARNING:
        template = m.SLA_WARNING
        users = _users().filter(tier_memberships__tier_id=tier_id)
    elif event.kind == EventKind.SLA_BREACHED:
        template = m.SLA_BREACHED
        users = _users().filter(Q(groups__name=MANAGERS_GROUP) | Q(is_superuser=True))
    if template is None:
        return []

    actor_email = event.actor.email.strip().lower() if event.actor_id and event.actor.email else None
    mails = []
    for user in users.distinct().order_by("pk"):
        email = user.email.strip()
        if not email:
            continue
        if user.pk == event.actor_id or email.lower() == actor_email:
            continue  # nobody is told about what they did themselves
        mails.append(Mail(email, m.language_or_default(_staff_language(user)), template))
    return mails


def _users():
    """Active users with an e-mail address, with their profile (language) loaded."""
    return get_user_model().objects.filter(is_active=True).exclude(email="").select_related("staff_profile")


def _staff_language(user) -> str:
    profile = getattr(user, "staff_profile", None)  # the reverse one-to-one raises if missing; getattr catches it
    return (profile.language if profile else "") or settings.LANGUAGE_CODE
