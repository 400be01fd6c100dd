"""The desk's requester page, and the managers' export and anonymisation of a requester's data.

Staff (agents and managers) see the requester page, reached from a ticket; only managers are offered, and
allowed, the export and the anonymisation (the services check the role again). Every look is recorded.
"""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from privacy import audit, services
from privacy.models import AccessRecord, Action, Channel
from tickets.attachments import as_download
from tickets.desk.views import staff_required
from tickets.exceptions import TicketError
from tickets.models import Requester
from tickets.policy import Actor, tickets_visible_to
from tiers.roles import Role, staff_role

# The requester page lists their latest tickets; someone with more is found through the queues' filters.
TICKETS_SHOWN = 100
MAX_ID = 2**63 - 1


def _requester_or_404(pk: int) -> Requester:
    requester = Requester.objects.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if requester is None:
        raise Http404
    return requester


def _is_manager(user) -> bool:
    return staff_role(user) == Role.MANAGER


def _manager_required(request) -> None:
    if not _is_manager(request.user):
        raise PermissionDenied


@staff_required
@require_http_methods(["GET"])
def requester_page(request, pk):
    """Who the requester is and their tickets; export and anonymise for managers."""
    requester = _requester_or_404(pk)
    audit.record(request, Action.VIEWED_REQUESTER, channel=Channel.DESK, requester=requester)
    return _render_page(request, requester)


def _render_page(request, requester, *, status=200):
    tickets = list(
        tickets_visible_to(request.user).filter(requester=requester).select_related("tier", "category")
        .order_by("-created_at", "-id")[: TICKETS_SHOWN + 1]
    )
    anonymised = services.is_anonymised(requester)
    context = {
        "requester": requester,
        "tickets": tickets[:TICKETS_SHOWN],
        "more": len(tickets) > TICKETS_SHOWN,
        "manager": _is_manager(request.user),
        "anonymised": anonymised,
        "anonymisation": AccessRecord.objects.filter(requester=requester, action=Action.ANONYMISED)
        .select_related("user").order_by("-at").first() if anonymised else None,
    }
    return render(request, "privacy/requester.html", context, status=status)


@staff_required
@require_POST
def requester_export(request, pk):
    """Everything held about the requester, as a ZIP download (managers only)."""
    _manager_required(request)
    requester = _requester_or_404(pk)
    archive = services.requester_export_zip(requester=requester, actor=Actor.of_user(request.user),
                                            origin=audit.Origin.of(request, Channel.DESK))
    return as_download(archive, f"requester-{requester.pk}.zip")


@staff_required
@require_http_methods(["GET", "POST"])
def requester_anonymise(request, pk):
    """Confirm, with a reason, and anonymise the requester (managers only)."""
    _manager_required(request)
    requester = _requester_or_404(pk)
    if services.is_anonymised(requester):
        messages.info(request, _("This requester is already anonymised."))
        return redirect("privacy:requester", pk=requester.pk)
    problem = None
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            problem = _("Tick the box to confirm that the requester's data is to be removed for good.")
        else:
            try:
                done = services.requester_anonymise(
                    requester=requester, actor=Actor.of_user(request.user), reason=request.POST.get("reason", ""),
                    origin=audit.Origin.of(request, Channel.DESK))
            except TicketError as exc:
                problem = str(exc)
            else:
                messages.success(request, _("The requester is anonymised (tickets: %(tickets)d, comments: "
                                            "%(comments)d, files: %(files)d).") % {
                    "tickets": done.tickets, "comments": done.comments, "files": done.attachments})
                return redirect("privacy:requester", pk=requester.pk)
    return render(
        request,
        "privacy/anonymise.html",
        {"requester": requester, "problem": problem, "reason": request.POST.get("reason", ""),
         "tickets": requester.tickets.count()},
        status=400 if problem else 200,
    )
