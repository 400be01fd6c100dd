"""The agent workspace: queues, the ticket page, workflow actions, logging a call.

Views parse, call one service (through the same action table as the API) and
render; visibility and permissions come from `tickets.policy`.
"""
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, DateTimeField, F, Q, When
from django.db.models.functions import Least
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError

from privacy import audit
from tickets import services
from tickets.api.actions import ACTIONS, perform
from tickets.api.filters import TicketFilter
from tickets.attachments import download_response
from tickets.deadlines import breaches
from tickets.desk.bulk import bulk_context
from tickets.exceptions import TicketError
from tickets.models import Attachment, Category, Channel, Priority, Requester, Ticket
from tickets.policy import Actor, available_actions, tickets_visible_to
from tickets.selectors import tier_summary
from tickets.workflow import OPEN_STATUSES, Action, EventKind, Status
from tiers.middleware import remember_language
from tiers.models import Tier
from tiers.roles import MANAGERS_GROUP, Role, staff_role, tier_ids_of

PAGE_SIZE = 25
BREACHING_WINDOW = timedelta(hours=4)
QUEUES = {
    "mine": gettext_lazy("My tickets"),
    "unassigned": gettext_lazy("Unassigned in my tier"),
    "open": gettext_lazy("All open"),
    "breaching": gettext_lazy("Breaching soon"),
    "waiting": gettext_lazy("Waiting on customer"),
    "all": gettext_lazy("All tickets"),
}
SORTS = {
    "-created_at": gettext_lazy("Newest first"),
    "created_at": gettext_lazy("Oldest first"),
    "priority": gettext_lazy("Priority"),
    "deadline": gettext_lazy("Nearest deadline"),
    "-updated_at": gettext_lazy("Recently changed"),
}


def staff_required(view):
    """Signed-in staff only; anyone else signed in gets 403."""

    @login_required
    def wrapped(request, *args, **kwargs):
        if staff_role(request.user) is None:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def next_deadline():
    """The nearest pending deadline: first response until answered, time at tier, resolution."""
    return Least(
        Case(When(first_response_at__isnull=True, then=F("response_due_at")), default=F("resolution_due_at")),
        F("escalation_due_at"),
        F("resolution_due_at"),
        output_field=DateTimeField(),
    )


def queue_tickets(user, queue: str):
    tickets = tickets_visible_to(user)
    if queue == "mine":
        return tickets.filter(assignee=user, status__in=OPEN_STATUSES)
    if queue == "unassigned":
        tickets = tickets.filter(assignee__isnull=True, status__in=OPEN_STATUSES)
        return tickets if staff_role(user) == Role.MANAGER else tickets.filter(tier_id__in=tier_ids_of(user))
    if queue == "breaching":
        return tickets.filter(status__in=(Status.NEW, Status.DIAGNOSING, Status.RESOLVING)).alias(
            due=next_deadline()
        ).filter(due__lte=timezone.now() + BREACHING_WINDOW)
    if queue == "waiting":
        return tickets.filter(status=Status.WAITING)
    if queue == "all":
        return tickets
    return tickets.filter(status__in=OPEN_STATUSES)


def sla_badge(ticket, now):
    """The deadline that matters most now, and how urgent it is (for the coloured countdown)."""
    if ticket.status == Status.WAITING:
        return {"state": "paused", "due": None}
    if ticket.status in (Status.RESOLVED, Status.CLOSED):
        return None
    pending = [d for d in (ticket.escalation_due_at, ticket.resolution_due_at) if d]
    if ticket.first_response_at is None and ticket.response_due_at:
        pending.append(ticket.response_due_at)
    if not pending:
        return None
    due = min(pending)
    left = due - now
    state = "breached" if left <= timedelta(0) else "urgent" if left <= timedelta(hours=1) else (
        "soon" if left <= BREACHING_WINDOW else "ok")
    return {"state": state, "due": due}


@staff_required
@require_GET
def queue(request):
    """A queue of tickets with filters, search, sorting and pages; `?partial=1` renders only the rows."""
    name = request.GET.get("queue", "open")
    if name not in QUEUES:
        name = "open"
    tickets = queue_tickets(request.user, name)
    filterset = TicketFilter(request.GET, queryset=tickets)
    if filterset.is_valid():
        tickets = filterset.qs
    else:
        messages.warning(request, _("Some filters were not understood and are ignored."))
    sort = request.GET.get("sort") or ("deadline" if name == "breaching" else "-created_at")
    if sort not in SORTS:
        sort = "-created_at"
    if sort == "deadline":
        tickets = tickets.alias(due=next_deadline()).order_by(F("due").asc(nulls_last=True), "id")
    elif sort == "priority":
        tickets = tickets.order_by("priority", "-created_at", "-id")
    else:
        tickets = tickets.order_by(sort, "-id")
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    # One row more than shown says whether there is a next page, without counting the whole queue.
    rows = list(
        tickets.select_related("tier", "category", "requester", "assignee")[start : start + PAGE_SIZE + 1]
    )
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    now = timezone.now()
    context = {
        "queue": name,
        "queues": QUEUES,
        "rows": [{"ticket": t, "sla": sla_badge(t, now)} for t in rows],
        "page": page,
        "has_next": has_next,
        "sort": sort,
        "sorts": SORTS,
        "filters": request.GET,
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "tiers": Tier.objects.order_by("level"),
        "categories": Category.objects.filter(is_active=True),
        "agents": get_user_model().objects.filter(is_active=True, tier_memberships__isnull=False).distinct()
        .order_by("username"),
        "query_without_page": _query_without(request, "page"),
        "summary": tier_summary(user=request.user),
        "open_statuses": [Status(s) for s in OPEN_STATUSES],
        **bulk_context(request),
    }
    template = "desk/_queue_rows.html" if request.GET.get("partial") else "desk/queue.html"
    return render(request, template, context)


def _query_without(request, *names) -> str:
    query = request.GET.copy()
    for name in (*names, "partial"):
        query.pop(name, None)
    return query.urlencode()


def _ticket_or_404(request, pk) -> Ticket:
    ticket = (
        tickets_visible_to(request.user)
        .select_related("tier", "category", "requester", "assignee", "repeat_of")
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        raise Http404
    return ticket


@staff_required
@require_GET
def ticket_page(request, pk):
    return _render_ticket(request, _ticket_or_404(request, pk))


def reply_draft_key(ticket_id: int) -> str:
    """Session key of a reply prepared for the agent (a suggestion pasted without the page's script)."""
    return f"desk-reply-draft-{ticket_id}"


def _render_ticket(request, ticket, *, status=200, posted=None, problem=None, stale=False):
    """The ticket page. After a refused change, `posted` keeps what the agent typed in the form they sent."""
    actor = Actor.of_user(request.user)
    audit.record(request, audit.Action.VIEWED_TICKET, channel=audit.Channel.DESK, ticket=ticket)
    draft = request.session.pop(reply_draft_key(ticket.pk), None)
    if draft and not posted:
        posted = {"comment": {"body": draft}}
    events = list(ticket.events.select_related("actor", "actor_requester", "from_tier", "to_tier"))
    comments = {c.pk: c for c in ticket.comments.select_related("author", "author_requester")}
    attachments = {a.pk: a for a in ticket.attachments.all()}
    timeline = [
        {
            "event": event,
            "comment": comments.get(event.data.get("comment_id")) if event.kind == EventKind.COMMENTED else None,
            "attachment": attachments.get(event.data.get("attachment_id")) if event.kind == EventKind.ATTACHED
            else None,
        }
        for event in events
    ]
    allowed = set(available_actions(actor, ticket))
    assignees = get_user_model().objects.filter(is_active=True).filter(
        Q(tier_memberships__tier=ticket.tier_id) | Q(groups__name=MANAGERS_GROUP)
    ).distinct().order_by("username")
    related = list(
        tickets_visible_to(request.user)
        .filter(requester=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .select_related("tier")
        .order_by("-created_at")[:6]
    )
    context = {
        "ticket": ticket,
        "timeline": timeline,
        "attachments": attachments.values(),
        "allowed": allowed,
        "actions": Action,
        "assignees": assignees,
        "related": related,
        "repeats": [t for t in related if t.repeat_of_id == ticket.pk],
        "repeat_link": next((e.data for e in reversed(events) if e.kind == EventKind.REPEAT_LINKED), None)
        if ticket.repeat_of_id else None,
        "suggest": ticket.status in OPEN_STATUSES,
        "publishable": ticket.status in (Status.RESOLVED, Status.CLOSED) and bool(ticket.resolution_summary),
        "sla": sla_badge(ticket, timezone.now()),
        "breached": breaches(ticket, timezone.now()),
        "posted": posted or {},
        "problem": problem,
        "stale": stale,
        "priorities": Priority.choices,
        "categories": Category.objects.filter(is_active=True),
    }
    return render(request, "desk/ticket.html", context, status=status)


ACTION_DONE = {
    Action.TAKE: gettext_lazy("You took the ticket."),
    Action.DIAGNOSE: gettext_lazy("Diagnosis saved."),
    Action.START_RESOLVING: gettext_lazy("Resolving started."),
    Action.WAIT: gettext_lazy("Waiting for the customer."),
    Action.RESUME: gettext_lazy("Work resumed."),
    Action.RESOLVE: gettext_lazy("Resolved; the customer is asked to confirm."),
    Action.ESCALATE: gettext_lazy("Escalated."),
    Action.DE_ESCALATE: gettext_lazy("Returned to the previous tier."),
    Action.REOPEN: gettext_lazy("Reopened."),
    Action.CLOSE: gettext_lazy("Closed."),
    Action.UNLINK_REPEAT: gettext_lazy("No longer counted as a repeat contact."),
    Action.ASSIGN: gettext_lazy("Assigned."),
    Action.COMMENT: gettext_lazy("Added to the ticket."),
    Action.UPDATE: gettext_lazy("Changes saved."),
}
TICKET_ERROR_STATUS = {TicketError.FORBIDDEN: 403, TicketError.NOT_FOUND: 404, TicketError.INVALID: 400,
                       TicketError.TOO_LARGE: 413}


@staff_required
@require_POST
def ticket_action(request, pk, action):
    """Run one workflow action from a form on the ticket page."""
    if action not in ACTIONS and action != Action.ATTACH:
        raise Http404
    ticket = _ticket_or_404(request, pk)
    actor = Actor.of_user(request.user)
    try:
        if action == Action.ATTACH:
            upload = request.FILES.get("file")
            if upload is None:
                raise TicketError(TicketError.INVALID, _("Choose a file to attach."), fields=["file"])
            services.attachment_add(actor=actor, ticket_id=ticket.pk, upload=upload,
                                    version=_int_or_none(request.POST.get("version")))
            messages.success(request, _("File attached."))
        else:
            perform(action, actor=actor, ticket_id=ticket.pk, data=request.POST)
            messages.success(request, ACTION_DONE[action])
    except ValidationError as exc:
        problem = "; ".join(f"{field}: {' '.join(map(str, errs))}" for field, errs in _field_errors(exc.detail))
        return _render_ticket(request, ticket, status=400, posted={action: request.POST}, problem=problem)
    except TicketError as exc:
        fresh = _ticket_or_404(request, pk)
        return _render_ticket(
            request,
            fresh,
            status=TICKET_ERROR_STATUS.get(exc.code, 409),
            posted={action: request.POST},
            problem=str(exc),
            stale=exc.code == TicketError.STALE_VERSION,
        )
    return redirect("desk:ticket", pk=ticket.pk)


def _field_errors(detail):
    if isinstance(detail, dict):
        return [(field, errs if isinstance(errs, list) else [errs]) for field, errs in detail.items()]
    return [("", detail if isinstance(detail, list) else [detail])]


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@staff_required
@require_GET
def attachment(request, pk, attachment_id):
    ticket = _ticket_or_404(request, pk)
    found = Attachment.objects.filter(ticket=ticket, pk=attachment_id).first()
    if found is None:
        raise Http404
    return download_response(found)


@staff_required
def log_call(request):
    """An agent opens a ticket on behalf of a caller (channel: phone)."""
    values = request.POST if request.method == "POST" else {
        "call_started_at": timezone.localtime().strftime(CALL_TIME_FORMAT)}
    problem = None
    if request.method == "POST":
        category = Category.objects.filter(slug=request.POST.get("category"), is_active=True).first()
        try:
            call = _call(request.POST)
            ticket = services.ticket_create(
                actor=Actor.of_user(request.user),
                subject=request.POST.get("subject", ""),
                description=request.POST.get("description", ""),
                requester_email=request.POST.get("requester_email", ""),
                requester_name=request.POST.get("requester_name", ""),
                priority=request.POST.get("priority") or Priority.P3,
                category=category,
                channel=Channel.PHONE,
                call=call,
            )
        except TicketError as exc:
            problem = str(exc)
        else:
            messages.success(request,
                             _("Ticket %(reference)s opened for the caller.") % {"reference": ticket.reference})
            return redirect("desk:ticket", pk=ticket.pk)
    return render(
        request,
        "desk/new.html",
        {"values": values, "problem": problem, "priorities": Priority.choices,
         "categories": Category.objects.filter(is_active=True)},
        status=400 if problem else 200,
    )


CALL_TIME_FORMAT = "%Y-%m-%dT%H:%M"


def _call(data) -> services.Call:
    """The call from the form: its start (the agent's local time, now if empty), length in minutes and notes."""
    text = (data.get("call_started_at") or "").strip()
    started_at = timezone.now()
    if text:
        try:
            started_at = timezone.make_aware(datetime.strptime(text[:16], CALL_TIME_FORMAT))
        except ValueError:
            raise TicketError(TicketError.INVALID, _("Enter the call's start as a date and time."),
                              fields=["call_started_at"]) from None
    minutes_text = (data.get("call_minutes") or "").strip()
    minutes = None
    if minutes_text:
        if not minutes_text.isdigit():
            raise TicketError(TicketError.INVALID, _("Enter the call's length as whole minutes."),
                              fields=["call_minutes"])
        minutes = int(minutes_text)
    return services.Call(started_at=started_at, minutes=minutes, notes=(data.get("call_notes") or "").strip())


@staff_required
@require_GET
def requesters(request):
    """Existing requesters matching an e-mail or a name, for the call form's suggestions."""
    text = request.GET.get("q", "").strip()[:100]
    if len(text) < 2:
        return JsonResponse({"results": []})
    found = Requester.objects.filter(Q(email__icontains=text) | Q(name__icontains=text)).order_by("email")[:8]
    return JsonResponse({"results": [{"email": r.email, "name": r.name} for r in found]})


@require_POST
def set_language(request):
    """Switch the interface language; signed-in staff keep it for their next sign-in."""
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES):
        remember_language(request, language)
    target = request.POST.get("next") or reverse("desk:queue")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("desk:queue")
    response = redirect(target)
    if language in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax",
                            secure=settings.SESSION_COOKIE_SECURE, httponly=True)
    return response
