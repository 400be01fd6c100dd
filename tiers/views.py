"""The signed-in agent's own switches in the desk: away (automatic assignment skips them) or back."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tiers.models import StaffProfile
from tiers.roles import staff_role


def set_away(user, away: bool) -> StaffProfile:
    """Mark a staff member away or back; the profile is made on first use."""
    profile, _created = StaffProfile.objects.update_or_create(user=user, defaults={"away": away})
    return profile


@login_required
@require_POST
def away(request):
    """Switch the signed-in agent away (``away=1``) or back (``away=0``), then return to the page they were on."""
    if staff_role(request.user) is None:
        raise PermissionDenied
    value = request.POST.get("away", "")
    if value not in ("0", "1"):
        messages.error(request, _("Choose away or back."))
    else:
        set_away(request.user, value == "1")
        messages.success(request, _("You are away: automatic assignment gives you no tickets.") if value == "1"
                         else _("You are back: automatic assignment gives you tickets again."))
    target = request.POST.get("next") or reverse("desk:queue")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("desk:queue")
    return redirect(target)
