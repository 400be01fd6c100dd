"""`Server-Timing` on every response when SERVER_TIMING is on: the server's own time for the request and
the SQL queries it ran, e.g. `app;dur=12.4, sql;dur=3.1;desc="7 queries"`.

For benchmarks and for profiling in a browser's network panel. Off by default: timings tell an outsider
more than they should.
"""
import time

from django.conf import settings
from django.db import connections


class _Queries:
    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class ServerTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = settings.SERVER_TIMING

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        queries = _Queries()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(queries):
            response = self.get_response(request)
        took = time.perf_counter() - started
        response["Server-Timing"] = (f"app;dur={took * 1000:.1f}, "
                                     f'sql;dur={queries.seconds * 1000:.1f};desc="{queries.count} queries"')
        return response
