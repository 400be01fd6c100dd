"""The desk's merge, link and tag forms, and the tag autocomplete (issue #12).

Like the workflow actions (`tickets.desk.views.ticket_action`), each view parses the form, calls one service and
redirects to the ticket; a refusal re-renders the ticket page with the message and what the agent typed.
"""
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tickets import services, tags
from tickets.desk.views import TICKET_ERROR_STATUS, _int_or_none, _render_ticket, _ticket_or_404, staff_required
from tickets.exceptions import TicketError
from tickets.models import format_reference
from tickets.policy import Actor


def _run(request, pk, form: str, change):
    """Run `change(actor, ticket)`; on a refusal show the ticket page again with the problem."""
    ticket = _ticket_or_404(request, pk)
    try:
        message = change(Actor.of_user(request.user), ticket)
    except TicketError as exc:
        return _render_ticket(request, _ticket_or_404(request, pk), status=TICKET_ERROR_STATUS.get(exc.code, 409),
                              posted={form: request.POST}, problem=str(exc),
                              stale=exc.code == TicketError.STALE_VERSION)
    messages.success(request, message)
    return redirect("desk:ticket", pk=pk)


@staff_required
@require_POST
def merge(request, pk):
    """Merge this ticket (the duplicate) into the ticket whose reference the agent typed."""

    def change(actor, ticket):
        into = (request.POST.get("into") or "").strip()
        if not into:
            raise TicketError(TicketError.INVALID, _("Give a ticket reference such as HD-000123."), fields=["into"])
        duplicate = services.ticket_merge(actor=actor, ticket_id=ticket.pk, into_id=into,
                                          version=_int_or_none(request.POST.get("version")))
        return _("Merged into %(reference)s.") % {"reference": format_reference(duplicate.merged_into_id)}

    return _run(request, pk, "merge", change)


@staff_required
@require_POST
def link(request, pk):
    def change(actor, ticket):
        other = (request.POST.get("ticket") or "").strip()
        if not other:
            raise TicketError(TicketError.INVALID, _("Give a ticket reference such as HD-000123."), fields=["ticket"])
        created = services.ticket_link(actor=actor, ticket_id=ticket.pk, other_id=other,
                                       version=_int_or_none(request.POST.get("version")))
        other_id = created.ticket_b_id if created.ticket_a_id == ticket.pk else created.ticket_a_id
        return _("Linked to %(reference)s.") % {"reference": format_reference(other_id)}

    return _run(request, pk, "link", change)


@staff_required
@require_POST
def unlink(request, pk, other):
    def change(actor, ticket):
        services.ticket_unlink(actor=actor, ticket_id=ticket.pk, other_id=other,
                               version=_int_or_none(request.POST.get("version")))
        return _("Link to %(reference)s removed.") % {"reference": format_reference(other)}

    return _run(request, pk, "unlink", change)


@staff_required
@require_POST
def tag(request, pk):
    """Add the comma-separated tags typed in, and remove the ones ticked off."""

    def change(actor, ticket):
        add = tags.split(request.POST.get("add", ""))
        remove = request.POST.getlist("remove")
        services.ticket_tag(actor=actor, ticket_id=ticket.pk, add=add, remove=remove,
                            version=_int_or_none(request.POST.get("version")))
        return _("Tags saved.")

    return _run(request, pk, "tag", change)


@staff_required
@require_GET
def tag_suggestions(request):
    """Tag names starting with `q`, the most used first (the tag input's autocomplete)."""
    return JsonResponse({"results": tags.suggestions(request.GET.get("q", "")[:100])})
