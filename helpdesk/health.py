"""Liveness and readiness probes for orchestrators and `make run`."""
import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """The database and the broker are reachable; 503 naming what is not."""
    problems = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Readiness: database unreachable: %s", exc)
        problems["database"] = "unreachable"
    try:
        _check_broker()
    except Exception as exc:
        logger.warning("Readiness: broker unreachable: %s", exc)
        problems["broker"] = "unreachable"
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})


def _check_broker():
    from helpdesk.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    # The embedded broker is a folder: it must exist and be writable.
    if not settings.CELERY_BROKER_DIR.is_dir():
        raise OSError(f"{settings.CELERY_BROKER_DIR} is missing")
