"""The presence heartbeat of the desk's ticket page (polled by static/js/presence.js)."""
import json

from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from presence.services import presence_beat
from tickets.desk.views import staff_required
from tickets.policy import tickets_visible_to

TRUE_WORDS = {"1", "true", "on", "yes"}
FALSE_WORDS = {"", "0", "false", "off", "no"}


class BadInput(ValueError):
    pass


def _typing(request) -> bool:
    """`typing` from a JSON body ``{"typing": true}`` or a form field; a missing flag means not typing."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BadInput(_("The body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise BadInput(_("Send a JSON object."))
        value = data.get("typing", False)
        if not isinstance(value, bool):
            raise BadInput(_("“typing” must be true or false."))
        return value
    word = request.POST.get("typing", "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadInput(_("“typing” must be true or false."))


@staff_required
@require_POST
@never_cache
def heartbeat(request, pk):
    """The agent's page is open (and maybe typing): answer who else has this ticket open, as [{name, typing}]."""
    # The same policy as the ticket page: who may not see the ticket learns nothing, not even that it exists.
    if not tickets_visible_to(request.user).filter(pk=pk).exists():
        raise Http404
    try:
        typing = _typing(request)
    except BadInput as exc:
        return JsonResponse({"detail": str(exc), "code": "invalid"}, status=400)
    return JsonResponse(presence_beat(user=request.user, ticket_id=pk, typing=typing), safe=False)
