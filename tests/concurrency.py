"""Run calls at the same moment in threads, each with its own database connection."""
import threading

from django.db import connection

from tickets.exceptions import TicketError


def race(*calls, timeout: float = 300):
    """Run the calls in parallel threads released together; return each one's result or TicketError."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except TicketError as exc:
            results[index] = exc
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
