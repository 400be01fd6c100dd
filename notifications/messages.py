"""What a notification says: the templates, their context, and the finished e-mail.

Each template name has three files under ``templates/notifications/``:
``<name>_subject.txt``, ``<name>.txt`` and ``<name>.html``. They are rendered
at send time inside ``translation.override(<recipient's language>)``; the
HTML is autoescaped (customer text included), the plain-text part is not.

Customer templates get a small context of plain values, never a model
instance: a template cannot reach the ticket's comments, so an internal note
cannot leak into a customer mail by a careless ``{{ ticket.comments… }}``.
"""
import re
from datetime import datetime
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from tickets.models import Comment, Event, Ticket
from tickets.portal.tokens import tracking_url
from tickets.workflow import EventKind
from tiers.roles import Role

# Mails to the ticket's requester.
CUSTOMER_CREATED = "customer_created"
CUSTOMER_REPLY = "customer_reply"
CUSTOMER_WAITING = "customer_waiting"
CUSTOMER_RESOLVED = "customer_resolved"
CUSTOMER_CLOSED = "customer_closed"
# A duplicate merged into another ticket: one message naming the ticket the work goes on in (no survey).
CUSTOMER_MERGED = "customer_merged"
CUSTOMER_TEMPLATES = frozenset({CUSTOMER_CREATED, CUSTOMER_REPLY, CUSTOMER_WAITING, CUSTOMER_RESOLVED, CUSTOMER_CLOSED,
                                CUSTOMER_MERGED})

# Mails to staff.
AGENT_ASSIGNED = "agent_assigned"
AGENT_CUSTOMER_REPLIED = "agent_customer_replied"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
STAFF_TEMPLATES = frozenset({AGENT_ASSIGNED, AGENT_CUSTOMER_REPLIED, SLA_WARNING, SLA_BREACHED})

TEMPLATES = CUSTOMER_TEMPLATES | STAFF_TEMPLATES

STAFF_AUTHORS = frozenset({Role.AGENT, Role.MANAGER, Role.INTEGRATION})

# Every character that could end a header line or is otherwise a control character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class RenderError(Exception):
    """The mail cannot be built (unknown template, a refused content). The message is safe to store."""


def one_line(text: str) -> str:
    """Collapse every kind of line break, control character and run of white space into one space."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def tidy_text(text: str) -> str:
    """The plain-text part without trailing blanks and with at most one empty line in a row.

    The signature separator "-- " keeps its trailing space.
    """
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def mail_domain() -> str:
    """The domain of DEFAULT_FROM_EMAIL, for Message-ID and References (the host name if it has none)."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    try:
        domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        domain = ""
    return domain if _DOMAIN.fullmatch(domain) else str(DNS_NAME)


def message_id(event_id: int, notification_id: int, domain: str | None = None) -> str:
    return f"<tierdesk.event-{event_id}.{notification_id}@{domain or mail_domain()}>"


def ticket_thread_id(ticket_id: int, domain: str | None = None) -> str:
    """The ticket's first message id: every customer mail about the ticket refers to it."""
    return f"<tierdesk.ticket-{ticket_id}@{domain or mail_domain()}>"


def language_or_default(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def build(notification) -> EmailMultiAlternatives:
    """The finished e-mail for a notification. Raises on any problem rendering it."""
    name = notification.template
    if name not in TEMPLATES:
        raise RenderError(f"Unknown template {name!r}.")
    event = Event.objects.select_related(
        "ticket", "ticket__requester", "ticket__tier", "actor", "actor_requester"
    ).get(pk=notification.event_id)
    customer = name in CUSTOMER_TEMPLATES
    with translation.override(language_or_default(notification.language)):
        context = customer_context(event, name) if customer else staff_context(event, name)
        subject = render_to_string(f"notifications/{name}_subject.txt", context)
        text = tidy_text(render_to_string(f"notifications/{name}.txt", context))
        html = render_to_string(f"notifications/{name}.html", context)

    ticket = event.ticket
    domain = mail_domain()
    headers = {
        "Message-ID": message_id(event.pk, notification.pk, domain),
        # RFC 3834: a robot wrote this; auto-responders must not answer it.
        "Auto-Submitted": "auto-generated",
    }
    if customer:
        headers["References"] = ticket_thread_id(ticket.pk, domain)
    message = EmailMultiAlternatives(
        subject=one_line(f"[{ticket.reference}] {one_line(subject)}"),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        # A customer's reply goes to the support mailbox, which threads it onto the ticket (app `inbound`).
        reply_to=[settings.INBOUND_ADDRESS or settings.DEFAULT_FROM_EMAIL] if customer else None,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


# --- context -------------------------------------------------------------------------


def customer_context(event: Event, name: str) -> dict:
    """Plain values only (see the module docstring)."""
    ticket = event.ticket
    context = {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "name": ticket.requester.name,
        "tracking_url": tracking_url(ticket),
        "reply_by_mail": bool(settings.INBOUND_ADDRESS),
    }
    if name == CUSTOMER_REPLY:
        context["reply"] = public_staff_reply(event).body
    elif name == CUSTOMER_RESOLVED:
        context["auto_close_days"] = settings.AUTO_CLOSE_DAYS
    elif name == CUSTOMER_WAITING:
        # The agent's question ("What you asked the customer" on the desk).
        context["question"] = event.reason
    elif name == CUSTOMER_CLOSED:
        context["help_url"] = _portal_home()
    elif name == CUSTOMER_MERGED:
        primary = Ticket.objects.filter(pk=(event.data or {}).get("into"), requester_id=ticket.requester_id).first()
        if primary is None:
            raise RenderError("The ticket this one was merged into is not the same customer's.")
        context.update(primary_reference=primary.reference, primary_subject=primary.subject,
                       primary_tracking_url=tracking_url(primary))
    return context


def public_staff_reply(event: Event) -> Comment:
    """The public staff reply an event records; refuses anything else (an internal note above all)."""
    data = event.data or {}
    if event.kind != EventKind.COMMENTED or data.get("internal") is not False:
        raise RenderError("Not a public reply: refused for a customer mail.")
    comment = Comment.objects.filter(pk=data.get("comment_id"), ticket_id=event.ticket_id).first()
    if comment is None or comment.internal or comment.author_role not in STAFF_AUTHORS:
        raise RenderError("Not a public reply: refused for a customer mail.")
    return comment


def staff_context(event: Event, name: str) -> dict:
    ticket = event.ticket
    context = {
        "event": event,
        "ticket": ticket,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "desk_url": settings.SITE_URL.rstrip("/") + reverse("desk:ticket", args=[ticket.pk]),
        "actor": event.actor_display,
        "customer": str(ticket.requester),
    }
    if name == AGENT_CUSTOMER_REPLIED:
        comment = Comment.objects.filter(pk=(event.data or {}).get("comment_id"), ticket_id=ticket.pk).first()
        if comment is None:
            raise RenderError("The reply this mail is about does not exist.")
        context["reply"] = comment.body
    elif name in (SLA_WARNING, SLA_BREACHED):
        data = event.data or {}
        context["clock"] = data.get("clock", "")
        context["breach"] = name == SLA_BREACHED
        context["due_at"] = _parse_time(data.get("due_at"))
    return context


def _parse_time(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _portal_home() -> str:
    """Where a customer asks for more help: the portal's report form once it is mounted, else the site."""
    site = settings.SITE_URL.rstrip("/")
    try:
        return site + reverse("portal:report")
    except NoReverseMatch:
        return site + "/"
