"""Merging a duplicate ticket into its primary, and linking related tickets: the rules and the moves.

`tickets.services.ticket_merge`, `ticket_link` and `ticket_unlink` lock the rows, check the workflow and write
the events; this module decides what the primary side allows and moves the duplicate's thread.

The rules of a merge:

* the duplicate is open (the workflow's `merge` action exists only from the open statuses) and the acting agent
  may work on it (its tier, or a manager);
* the primary is open too: the customer's words land on a ticket someone is still working on. A resolved
  primary is refused — the customer's new message belongs in a reopen, which counts as a repeat contact and
  restarts the work; a closed one is final;
* both tickets belong to the same requester: the primary's tracking page shows its public thread, so another
  customer's replies must never move onto it (related tickets of different customers are linked instead);
* not into itself, not from or into a ticket already merged away. A merged ticket is closed and nothing leaves
  `closed`, so merges form no chains and no cycles (checked here all the same).

What the metrics see: both tickets stay created tickets; the duplicate counts as a repeat contact of the primary
(`repeat_of`, kept if it already repeats another ticket), so the pair is one contact plus one repeat. The
duplicate's `resolved_at` is cleared, so closing by merge is never a resolution (nor a time to resolve, nor an
SLA result), and it carries no rating.
"""
from django.db.models import Q
from django.utils.translation import gettext as _

from tickets.exceptions import TicketError
from tickets.models import Attachment, Comment, Ticket, TicketLink, format_reference, parse_reference
from tickets.workflow import OPEN_STATUSES, Status


def ticket_id_of(value, *, field: str) -> int:
    """A ticket id from an id or a reference (``123``, ``"123"``, ``"HD-000123"``); refuses anything else."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        number = int(value.strip())
    else:
        number = parse_reference(value) if isinstance(value, str) else None
    if number is None or not 0 < number < 2**63:
        raise TicketError(TicketError.INVALID, _("Give a ticket reference such as HD-000123."), fields=[field])
    return number


def lock_pair(first_id: int, second_id: int, *, field: str) -> dict[int, Ticket]:
    """Lock both ticket rows, the lower id first: two transactions locking the same pair from either side queue
    up instead of deadlocking. The second ticket missing is bad input (the first one is the URL's)."""
    rows = {}
    for pk in sorted((first_id, second_id)):
        found = Ticket.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            if pk == first_id:
                raise TicketError(TicketError.NOT_FOUND, _("No such ticket."))
            raise TicketError(TicketError.INVALID, _("There is no ticket %(reference)s.") % {
                "reference": format_reference(pk)}, fields=[field])
        rows[pk] = found
    return rows


def merge_refusal(duplicate: Ticket, primary: Ticket) -> str | None:
    """Why `duplicate` cannot be merged into `primary` (the duplicate's own workflow and policy are checked by
    the service), or None."""
    if primary.merged_into_id is not None:
        return _("%(primary)s was itself merged into %(other)s; merge into that ticket instead.") % {
            "primary": primary.reference, "other": format_reference(primary.merged_into_id)}
    if primary.status not in OPEN_STATUSES:
        if primary.status == Status.RESOLVED:
            return _("%(primary)s is resolved: reopen it first, or link the tickets instead.") % {
                "primary": primary.reference}
        return _("%(primary)s is closed; a ticket can only be merged into an open one.") % {
            "primary": primary.reference}
    if primary.requester_id != duplicate.requester_id:
        return _("%(primary)s belongs to another customer; link the tickets instead of merging them.") % {
            "primary": primary.reference}
    # Follow the primary's chain: merging must never close a loop (impossible while merged tickets are closed).
    seen, step = {primary.pk}, primary.merged_into_id
    while step is not None:
        if step == duplicate.pk or step in seen:
            return _("Merging these tickets would make a loop.")
        seen.add(step)
        step = Ticket.objects.filter(pk=step).values_list("merged_into_id", flat=True).first()
    return None


def move_thread(duplicate: Ticket, primary: Ticket) -> dict:
    """Move every comment and attachment of the duplicate to the primary, keeping their authors and times.
    Returns the moved ids and the comments' texts (for the primary's search text)."""
    comments = list(Comment.objects.filter(ticket=duplicate).order_by("created_at", "id").values_list("pk", "body"))
    attachment_ids = list(Attachment.objects.filter(ticket=duplicate).order_by("id").values_list("pk", flat=True))
    if comments:
        Comment.objects.filter(pk__in=[pk for pk, _body in comments]).update(ticket=primary)
    if attachment_ids:
        # The stored file keeps its path: downloads read it through the row, now the primary's.
        Attachment.objects.filter(pk__in=attachment_ids).update(ticket=primary)
    return {
        "comment_ids": [pk for pk, _body in comments],
        "attachment_ids": attachment_ids,
        "bodies": [body for _pk, body in comments],
    }


def repeat_changes(duplicate: Ticket, primary: Ticket) -> tuple[dict, dict]:
    """The `repeat_of` changes of (duplicate, primary) so the pair counts as one contact plus one repeat.

    The duplicate becomes a repeat of the primary unless it already repeats some ticket. If the primary was
    itself counted as a repeat of the duplicate (a newer ticket kept as the primary), that link turns around:
    the primary takes over whatever the duplicate repeated, and the duplicate repeats the primary.
    """
    duplicate_changes, primary_changes = {}, {}
    if primary.repeat_of_id == duplicate.pk:
        inherited = duplicate.repeat_of_id if duplicate.repeat_of_id != primary.pk else None
        primary_changes["repeat_of_id"] = inherited
        duplicate_changes["repeat_of_id"] = primary.pk
    elif duplicate.repeat_of_id is None:
        duplicate_changes["repeat_of_id"] = primary.pk
    return duplicate_changes, primary_changes


# --- links ------------------------------------------------------------------------------------------------


def ordered(first_id: int, second_id: int) -> tuple[int, int]:
    return (first_id, second_id) if first_id < second_id else (second_id, first_id)


def link_between(first_id: int, second_id: int) -> TicketLink | None:
    a, b = ordered(first_id, second_id)
    return TicketLink.objects.filter(ticket_a_id=a, ticket_b_id=b).first()


def linked_tickets(ticket_id: int) -> list[Ticket]:
    """The tickets linked to this one, oldest link first, each with `link` (the TicketLink) set. Two queries."""
    links = list(TicketLink.objects.filter(Q(ticket_a_id=ticket_id) | Q(ticket_b_id=ticket_id))
                 .order_by("created_at", "id"))
    others = {link.ticket_b_id if link.ticket_a_id == ticket_id else link.ticket_a_id: link for link in links}
    tickets = Ticket.objects.filter(pk__in=others).select_related("tier")
    found = {t.pk: t for t in tickets}
    result = []
    for other_id, link in others.items():
        ticket = found.get(other_id)
        if ticket is not None:
            ticket.link = link
            result.append(ticket)
    return result
