"""Error pages: JSON in the API's error shape under /api/, Django's defaults elsewhere."""
from django.http import JsonResponse
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Internal error; it has been logged.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
