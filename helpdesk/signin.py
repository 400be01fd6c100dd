"""Sign-in attempts for one username run one at a time, so that the lockout holds against parallel requests.

django-axes checks the failures recorded so far, then the password is checked, then the failure is recorded.
Fifty attempts sent at once all pass the first step before any reaches the last: measured here, 24 passwords
were tried for a limit of 5. Holding a lock per username from the check to the record makes every attempt see
the failures of the ones before it, so at most AXES_FAILURE_LIMIT passwords are ever tried.

On PostgreSQL the lock is an advisory lock, shared by every web process; elsewhere (the embedded mode, one web
process) a lock in the process.
"""
import hashlib
import threading
from contextlib import contextmanager, suppress

from django.db import DatabaseError, connection
from django.urls import NoReverseMatch, reverse

_local_lock = threading.Lock()


class SerialSignInMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or request.path not in _sign_in_paths():
            return self.get_response(request)
        with _one_at_a_time(request.POST.get("username", "")):
            return self.get_response(request)


def _sign_in_paths() -> set[str]:
    """The sign-in pages of the URL configuration in use (Django caches the lookups; a configuration without
    them, as some tests use, has none)."""
    paths = set()
    for name in ("login", "admin:login"):
        with suppress(NoReverseMatch):
            paths.add(reverse(name))
    return paths


@contextmanager
def _one_at_a_time(username: str):
    if connection.vendor != "postgresql":
        with _local_lock:
            yield
        return
    digest = hashlib.sha256(f"tierdesk-sign-in:{username.strip().lower()}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        # A session lock: released here, or by PostgreSQL when the connection closes (as it does when it broke).
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:
            connection.close()
