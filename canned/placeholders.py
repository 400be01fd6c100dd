"""The placeholders of canned replies: a small engine of our own, never Django's template engine.

A reply's text may name values of the ticket at hand as ``{{ requester.name }}``; only the names of
`PLACEHOLDERS` are filled in. Rendering is one regular-expression pass over the reply's own text: a value is
inserted literally and never read again, so customer data such as a name written ``{{ ticket.reference }}``,
``{% debug %}`` or ``<script>`` stays exactly that text. The result is plain text for a textarea (or JSON), never
HTML; whoever shows it in a page escapes it like any other text.
"""
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tickets.portal import tokens

# `{{`, optional spaces, a name without braces, optional spaces, `}}`. The name may be anything but braces, so
# that a misspelt or unknown placeholder is found (and refused when a reply is saved) rather than overlooked;
# excluding braces makes `{{{ ticket.reference }}}` fill in the inner placeholder and keep the outer braces.
PATTERN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class Placeholder:
    name: str
    description: str
    value: Callable[[object, object], str]


def _agent_name(ticket, agent) -> str:
    return agent.get_full_name() or agent.get_username()


def _tracking_url(ticket, agent) -> str:
    # Tickets made by the services always have their salt; without one there is no working link to give.
    return tokens.tracking_url(ticket) if ticket.tracking_salt else ""


def _portal_url(ticket, agent) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("portal:report")


PLACEHOLDERS: dict[str, Placeholder] = {
    p.name: p
    for p in (
        Placeholder("requester.name", _("the customer's name"), lambda t, a: t.requester.name),
        Placeholder("requester.email", _("the customer's e-mail address"), lambda t, a: t.requester.email),
        Placeholder("ticket.reference", _("the ticket's reference, e.g. HD-000123"), lambda t, a: t.reference),
        Placeholder("ticket.subject", _("the ticket's subject"), lambda t, a: t.subject),
        Placeholder("ticket.tracking_url", _("the customer's private link to follow the ticket"), _tracking_url),
        Placeholder("portal.url", _("the address of the support portal"), _portal_url),
        Placeholder("agent.name", _("your name"), _agent_name),
        Placeholder("agent.email", _("your e-mail address"), lambda t, a: a.email),
        Placeholder("tier.name", _("the name of the ticket's tier"), lambda t, a: t.tier.name),
    )
}


def unknown_placeholders(text: str) -> list[str]:
    """The placeholders `text` names that are not in `PLACEHOLDERS`, each once, in order of appearance."""
    unknown = []
    for match in PATTERN.finditer(text):
        name = match.group(1)
        if name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def allowed_list() -> str:
    """The allowed placeholders, written as they are typed, for messages."""
    return ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)


def values_for(ticket, agent) -> dict[str, str]:
    """The value of every placeholder for this ticket, written by this agent (the ticket's requester and tier
    must be loaded, or each costs a query)."""
    return {name: str(p.value(ticket, agent) or "") for name, p in PLACEHOLDERS.items()}


def render(text: str, values: dict[str, str]) -> str:
    """`text` with its known placeholders replaced by `values`; unknown ones stay as they are written.

    One pass: `re.sub` never scans what a function returned, so a value is never read as a placeholder."""
    return PATTERN.sub(lambda match: values.get(match.group(1), match.group(0)), text)
