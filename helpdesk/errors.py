"""Error pages: JSON in the API's error shape under /api/, Django's defaults elsewhere.

An unreachable database (a restart, a failover, a network cut) is not a bug
of the request: it is answered 503 with a short page or JSON body and a
``Retry-After``, never a 500. The connection is re-opened by the next request
that finds the database back, so the site recovers by itself.
"""
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

# What Django raises when the database cannot be reached or drops the connection mid-request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Django calls this handler while it handles the exception, so the exception is at hand.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return service_unavailable(request)
    if _is_api(request):
        return JsonResponse({"detail": "Internal error; it has been logged.", "code": "server_error"}, status=500)
    return defaults.server_error(request)


def service_unavailable(request):
    """503 while the database is unavailable. The page needs no database (no request context, no user)."""
    if _is_api(request):
        response = JsonResponse(
            {"detail": _("The service is temporarily unavailable. Please try again in a moment."),
             "code": "service_unavailable"},
            status=503,
        )
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
