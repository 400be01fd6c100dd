"""Canned replies in the agent workspace: the pages to manage them (`/desk/canned/`) and the list the ticket
page's picker loads, filled in for that ticket (`/desk/t/<id>/canned/`)."""
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from canned import placeholders, selectors, services
from canned.models import CannedReply
from tickets.desk.views import TICKET_ERROR_STATUS, _ticket_or_404, staff_required
from tickets.exceptions import TicketError
from tiers.models import Tier
from tiers.roles import Role, staff_role


class ReplyForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=services.TITLE_MAX)
    body = forms.CharField(label=gettext_lazy("Text"), max_length=services.BODY_MAX,
                           widget=forms.Textarea(attrs={"rows": 10}))
    language = forms.ChoiceField(label=gettext_lazy("Language"),
                                 choices=[("", gettext_lazy("any")), *settings.LANGUAGES], required=False)

    def __init__(self, *args, manager: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if manager:
            self.fields["tier"] = forms.ModelChoiceField(
                label=gettext_lazy("Shared with"), queryset=Tier.objects.order_by("level"), required=False,
                empty_label=gettext_lazy("nobody (a personal reply)"),
                help_text=gettext_lazy("A tier-wide reply is offered to every agent of that tier."))

    def clean_body(self):
        body = self.cleaned_data["body"]
        problem = services.placeholder_problem(body)
        if problem:
            raise forms.ValidationError(problem)
        return body

    def as_input(self) -> services.ReplyInput:
        data = self.cleaned_data
        return services.ReplyInput(title=data["title"], body=data["body"], language=data["language"],
                                   tier=data.get("tier"))


def _reply_or_404(user, pk) -> CannedReply:
    reply = selectors.canned_replies_visible_to(user).filter(pk=pk).first()
    if reply is None:
        raise Http404
    return reply


def _is_manager(user) -> bool:
    return staff_role(user) == Role.MANAGER


@staff_required
@require_GET
def reply_list(request):
    """The replies this user sees: their own first, then those shared with a tier."""
    replies = list(selectors.canned_replies_visible_to(request.user))
    rows = [{"reply": r, "may_manage": selectors.may_manage(request.user, r)} for r in replies]
    return render(request, "canned/list.html", {
        "personal": [row for row in rows if row["reply"].owner_id == request.user.pk],
        "others": [row for row in rows if row["reply"].owner_id is not None and row["reply"].owner_id
                   != request.user.pk],
        "shared": [row for row in rows if row["reply"].tier_id is not None],
    })


@staff_required
@require_http_methods(["GET", "POST"])
def reply_edit(request, pk=None):
    """Write a new reply, or change one this user may manage (403 for a tier's reply an agent only uses)."""
    reply = _reply_or_404(request.user, pk) if pk is not None else None
    if reply is not None and not selectors.may_manage(request.user, reply):
        return render(request, "canned/refused.html", {"reply": reply}, status=403)
    manager = _is_manager(request.user)
    status, problem = 200, None
    if request.method == "POST":
        form = ReplyForm(request.POST, manager=manager)
        if form.is_valid():
            try:
                services.canned_reply_save(user=request.user, data=form.as_input(),
                                           reply_id=reply.pk if reply else None)
            except TicketError as exc:
                status, problem = TICKET_ERROR_STATUS.get(exc.code, 400), str(exc)
            else:
                messages.success(request, _("Canned reply saved."))
                return redirect("canned:list")
        else:
            status = 400
    elif reply is not None:
        form = ReplyForm(manager=manager, initial={"title": reply.title, "body": reply.body,
                                                   "language": reply.language, "tier": reply.tier})
    else:
        form = ReplyForm(manager=manager)
    return render(request, "canned/edit.html", {
        "form": form, "reply": reply, "problem": problem,
        "placeholders": [(f"{{{{ {p.name} }}}}", p.description) for p in placeholders.PLACEHOLDERS.values()],
    }, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def reply_delete(request, pk):
    """Ask, then delete a reply this user may manage."""
    reply = _reply_or_404(request.user, pk)
    if not selectors.may_manage(request.user, reply):
        return render(request, "canned/refused.html", {"reply": reply}, status=403)
    if request.method == "POST":
        try:
            services.canned_reply_delete(user=request.user, reply_id=reply.pk)
        except TicketError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Canned reply deleted."))
        return redirect("canned:list")
    return render(request, "canned/delete.html", {"reply": reply})


@staff_required
@require_GET
def ticket_replies(request, pk):
    """The picker's list: `[{id, title, text, language, scope}]`, each reply filled in for this ticket.

    Plain text in JSON: the page's script puts it into the textarea's value, never into HTML."""
    ticket = _ticket_or_404(request, pk)
    response = JsonResponse(selectors.rendered_for_ticket(request.user, ticket), safe=False)
    response["Cache-Control"] = "no-store"
    return response
