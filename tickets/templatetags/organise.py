"""Template tags of the ticket page's merge, link and tag panels (templates/desk/_merge_link.html, _tags.html).

Each reads what its panel shows in a fixed number of queries, whatever the ticket's history, and keeps it on the
ticket object for the rest of the page.
"""
from django import template

from tickets.merge import linked_tickets
from tickets.models import Comment, Event, Ticket, format_reference
from tickets.workflow import EventKind

register = template.Library()


@register.simple_tag
def links_of(ticket: Ticket) -> list:
    """The tickets linked to this one (two queries, once per page)."""
    if not hasattr(ticket, "_links_shown"):
        ticket._links_shown = linked_tickets(ticket.pk)
    return ticket._links_shown


@register.simple_tag
def tag_names(ticket: Ticket) -> list[str]:
    """The ticket's tags, by name (one query, once per page)."""
    if not hasattr(ticket, "_tags_shown"):
        ticket._tags_shown = sorted(ticket.tags.values_list("name", flat=True))
    return ticket._tags_shown


@register.simple_tag
def moved_comments(ticket: Ticket, event: Event) -> list:
    """The comments a `merged_in` event moved onto this ticket, oldest first. The first call reads those of
    every merge into the ticket (two queries); the others reuse them."""
    moved = getattr(ticket, "_moved_comments", None)
    if moved is None:
        ids = set()
        for data in Event.objects.filter(ticket=ticket, kind=EventKind.MERGED_IN).values_list("data", flat=True):
            ids.update(pk for pk in (data or {}).get("comment_ids", []) if isinstance(pk, int))
        found = Comment.objects.filter(ticket=ticket, pk__in=ids).select_related("author", "author_requester")
        moved = ticket._moved_comments = {comment.pk: comment for comment in found}
    wanted = (event.data or {}).get("comment_ids", [])
    return [moved[pk] for pk in wanted if isinstance(pk, int) and pk in moved]


@register.simple_tag
def reference(pk) -> str:
    """The public reference of a ticket id (HD-000123), without reading the ticket."""
    return format_reference(pk) if isinstance(pk, int) else ""
