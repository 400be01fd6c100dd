"""Free tags on tickets: the names, the change of a ticket's tags, and the reads the desk, API and dashboard use.

A tag name is normalised before anything else looks at it (trimmed, inner white space collapsed, lower case),
so "VPN ", "vpn" and " Vpn" are one tag. Names are at most TAG_MAX characters and hold no comma (commas separate
tags in the desk's input). `tickets.services.ticket_tag` is the only writer of a ticket's tags.
"""
import unicodedata

from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext as _

from tickets.exceptions import TicketError
from tickets.models import Tag, Ticket

TAG_MAX = 40
# Tags one ticket may carry, and names one change may name: enough for real use, a bound for the rest.
TAGS_PER_TICKET = 20
SUGGESTIONS = 10

TicketTag = Ticket.tags.through


def normalise(name) -> str:
    """The stored form of a tag name ("" for nothing)."""
    if not isinstance(name, str):
        return ""
    return " ".join(name.split()).lower()


def clean_names(names, *, field: str) -> list[str]:
    """Normalised, distinct names in the order given; refuses a name too long or with a comma."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    cleaned = []
    for raw in names:
        if not isinstance(raw, str):
            raise TicketError(TicketError.INVALID, _("Tags must be text."), fields=[field])
        name = normalise(raw)
        if not name:
            continue
        if any(unicodedata.category(char) == "Cc" for char in name):
            raise TicketError(TicketError.INVALID, _("A tag cannot contain control characters."), fields=[field])
        if "," in name:
            raise TicketError(TicketError.INVALID, _("A tag cannot contain a comma: “%(tag)s”.") % {"tag": name},
                              fields=[field])
        if len(name) > TAG_MAX:
            raise TicketError(TicketError.INVALID, _("A tag is at most %(max)d characters: “%(tag)s”.") % {
                "max": TAG_MAX, "tag": name[:TAG_MAX] + "…"}, fields=[field])
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > TAGS_PER_TICKET:
        raise TicketError(TicketError.INVALID, _("A ticket can have at most %(max)d tags.") % {
            "max": TAGS_PER_TICKET}, fields=[field])
    return cleaned


def split(text: str) -> list[str]:
    """The names in a comma-separated input (the desk's tag field)."""
    return [part for part in (text or "").split(",") if part.strip()]


def ensure(names: list[str]) -> dict[str, Tag]:
    """The Tag rows of these names, created where missing. A concurrent creation of the same name is not an
    error: the insert skips conflicts and the read that follows finds whichever row won."""
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return {tag.name: tag for tag in Tag.objects.filter(name__in=names)}


def names_of(ticket: Ticket) -> list[str]:
    return sorted(ticket.tags.values_list("name", flat=True))


def with_tag(queryset, name: str):
    """Tickets of `queryset` carrying the tag `name`: an EXISTS on the ticket–tag table (its unique index on
    ticket and tag answers it), so the list keeps its order and index and needs no DISTINCT."""
    name = normalise(name)
    if not name:
        return queryset
    return queryset.filter(Exists(TicketTag.objects.filter(ticket_id=OuterRef("pk"), tag__name=name)))


def suggestions(prefix: str, *, limit: int = SUGGESTIONS) -> list[str]:
    """Tag names starting with `prefix`, the most used first (for the desk's autocomplete)."""
    prefix = normalise(prefix)[:TAG_MAX]
    tags = Tag.objects.all()
    if prefix:
        tags = tags.filter(name__startswith=prefix)
    rows = tags.annotate(uses=Count("tickets")).order_by("-uses", "name").values_list("name", flat=True)[:limit]
    return list(rows)
