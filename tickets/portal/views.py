"""The customer portal (/support/): report a problem, follow it, answer, confirm the fix.

Customers have no account. A ticket is opened by its private tracking link;
"my tickets" is opened by a single-use link sent by e-mail. Every change goes
through the services as the customer actor, so the workflow and the policy
apply exactly as for agents.
"""
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Category, Channel, Requester
from tickets.policy import Actor
from tickets.portal import forms, signin, tokens
from tickets.workflow import Status

PORTAL_SESSION_KEY = "portal_requester_id"

# What the customer reads for each status: plain words, no jargon.
PLAIN_STATUS = {
    Status.NEW: translation.gettext_lazy("Received — waiting for a support agent."),
    Status.DIAGNOSING: translation.gettext_lazy("An agent is looking into what fails and why."),
    Status.RESOLVING: translation.gettext_lazy("The cause is known; the fix is being prepared and tested."),
    Status.WAITING: translation.gettext_lazy("We are waiting for your answer — please reply below."),
    Status.RESOLVED: translation.gettext_lazy("We think it is fixed. Please confirm below, or tell us it is not."),
    Status.CLOSED: translation.gettext_lazy("Closed. Thank you!"),
}


def private(view):
    """Pages whose URL is a secret: never sent to another site as a Referer, never cached.

    `same-origin` rather than `no-referrer`: with no-referrer, browsers send
    `Origin: null` on the page's own form posts, which CSRF protection rightly
    refuses; same-origin still keeps the URL from every other site.
    """

    @never_cache
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "same-origin"
        return response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def limited(request, group: str, rate: str, *, email: str = "") -> bool:
    """Count this request against per-address (and per-e-mail) limits; True when over either."""
    over = is_ratelimited(request, group=group, key="ip", rate=rate, method=is_ratelimited.ALL, increment=True)
    if email:
        over |= is_ratelimited(
            request, group=f"{group}-email", key=lambda g, r: email.lower(), rate=rate, method=is_ratelimited.ALL,
            increment=True,
        )
    return over


@never_cache
@require_http_methods(["GET", "POST"])
def report(request):
    """The problem report form."""
    form = forms.ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_bot():
            # A bot filled the hidden field: answer as if it worked, open nothing.
            return render(request, "support/received.html", {"reference": None})
        if limited(request, "portal-report", settings.PORTAL_REPORT_RATE, email=request.POST.get("email", "")):
            form.add_error(None, _("You have sent several reports in a short time. Please wait a few minutes "
                                   "and try again."))
            return render(request, "support/report.html", {"form": form}, status=429)
        if form.is_valid():
            try:
                with transaction.atomic():
                    ticket = services.ticket_create(
                        subject=form.cleaned_data["subject"],
                        description=form.cleaned_data["description"],
                        requester_email=form.cleaned_data["email"],
                        requester_name=form.cleaned_data["name"],
                        category=form.cleaned_data["category"],
                        channel=Channel.WEB,
                        language=translation.get_language(),
                    )
                    customer = Actor.customer(ticket.requester)
                    for upload in form.cleaned_data["files"]:
                        services.attachment_add(actor=customer, ticket_id=ticket.pk, upload=upload)
            except TicketError as exc:
                form.add_error(None, str(exc))
            else:
                return render(
                    request,
                    "support/received.html",
                    {"reference": ticket.reference, "tracking_path": tokens.tracking_path(ticket)},
                    status=201,
                )
        return render(request, "support/report.html", {"form": form}, status=400)
    return render(request, "support/report.html", {"form": form})


def _tracked(token):
    ticket = tokens.ticket_for_token(token)
    if ticket is None:
        raise Http404
    return ticket


@private
@require_http_methods(["GET"])
def track(request, token):
    """The ticket as its customer sees it: status in plain words and the public thread."""
    ticket = _tracked(token)
    return _render_track(request, ticket, token)


def _render_track(request, ticket, token, *, status=200, problem=None, posted=None):
    thread = ticket.comments.filter(internal=False).select_related("author", "author_requester")
    files = ticket.attachments.all()
    return render(
        request,
        "support/track.html",
        {
            "ticket": ticket,
            "token": token,
            "plain_status": PLAIN_STATUS[ticket.status],
            "thread": thread,
            "files": files,
            "problem": problem,
            "posted": posted or {},
            "can_reply": ticket.status != Status.CLOSED,
            "can_confirm": ticket.status == Status.RESOLVED,
        },
        status=status,
    )


@private
@require_POST
def track_action(request, token, action):
    """Reply, confirm the fix (with a rating), or say it is not fixed."""
    ticket = _tracked(token)
    customer = Actor.customer(ticket.requester)
    if limited(request, "portal-track", settings.PORTAL_ACTION_RATE):
        return _render_track(request, ticket, token, status=429, posted=request.POST,
                             problem=_("Too many messages in a short time. Please wait a minute and try again."))
    form_class = {"reply": forms.ReplyForm, "confirm": forms.ConfirmForm, "not-fixed": forms.NotFixedForm}.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        problem = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _render_track(request, ticket, token, status=400, problem=problem, posted=request.POST)
    try:
        with transaction.atomic():
            if action == "reply":
                if form.cleaned_data["body"]:
                    services.comment_add(actor=customer, ticket_id=ticket.pk, body=form.cleaned_data["body"])
                for upload in form.cleaned_data["files"]:
                    services.attachment_add(actor=customer, ticket_id=ticket.pk, upload=upload)
                messages.success(request, _("Thank you — your message was added."))
            elif action == "confirm":
                services.ticket_close(actor=customer, ticket_id=ticket.pk, csat=form.cleaned_data["rating"],
                                      comment=form.cleaned_data["comment"])
                messages.success(request, _("Thank you for confirming. The ticket is closed."))
            else:
                services.ticket_reopen(actor=customer, ticket_id=ticket.pk, reason=form.cleaned_data["reason"])
                messages.success(request, _("We are sorry it is not fixed yet. The ticket is open again."))
    except TicketError as exc:
        fresh = _tracked(token)
        return _render_track(request, fresh, token, status=409, problem=str(exc), posted=request.POST)
    return redirect("portal:track", token=token)


@never_cache
@require_http_methods(["GET", "POST"])
def my_tickets_request(request):
    """Ask for a sign-in link. The answer is the same whether or not the address is known."""
    form = forms.EmailForm(request.POST or None)
    if request.method == "POST":
        if limited(request, "portal-signin", settings.PORTAL_SIGNIN_RATE, email=request.POST.get("email", "")):
            form.add_error(None, _("Several links were requested in a short time. Please wait a few minutes."))
            return render(request, "support/mine_request.html", {"form": form}, status=429)
        if form.is_valid():
            # The work (does the address exist? send the mail) happens in a worker, so the
            # answer takes the same time either way.
            signin.request_link(form.cleaned_data["email"], language=translation.get_language())
            return render(request, "support/mine_sent.html", {"email": form.cleaned_data["email"]})
        return render(request, "support/mine_request.html", {"form": form}, status=400)
    return render(request, "support/mine_request.html", {"form": form})


@private
@require_http_methods(["GET"])
def my_tickets_signin(request, token):
    """Follow a sign-in link: single use, 30 minutes."""
    requester = signin.use_link(token)
    if requester is None:
        return render(request, "support/mine_expired.html", status=404)
    request.session.cycle_key()
    request.session[PORTAL_SESSION_KEY] = requester.pk
    return redirect("portal:mine")


@private
@require_http_methods(["GET"])
def my_tickets(request):
    requester = Requester.objects.filter(pk=request.session.get(PORTAL_SESSION_KEY)).first()
    if requester is None:
        return redirect("portal:mine-request")
    tickets = requester.tickets.select_related("category").order_by("-created_at")[:200]
    rows = [{"ticket": t, "path": tokens.tracking_path(t), "plain_status": PLAIN_STATUS[t.status]} for t in tickets]
    return render(request, "support/mine.html", {"requester": requester, "rows": rows})


def categories():
    return Category.objects.filter(is_active=True)
