"""Benchmark: `GET /api/v1/metrics/summary/` and the manager dashboard for the last 365 days, on PostgreSQL,
read from the daily rollups and, for comparison, computed live from tickets and events.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierdesk_seed_1m .venv/bin/python bench/metrics.py \\
        [--runs 10] [--seed-tickets 1000000]

The database must hold the standard workload (`bench/seed.py`); with
`--seed-tickets N` an empty database is seeded first. The script migrates,
rebuilds the rollups with `rebuild_metrics` (timed), then measures each request
in this process through Django's test client — the server time: middleware,
queries, rendering — `--runs` times after one warm-up, and reports the median,
the worst run and the SQL queries per request. "Live" runs the same requests
with the rollup state removed, so every number is computed from tickets and
events; the state is restored afterwards.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import environment  # noqa: F401 — the project on the path and the bench settings, before Django starts


def setup(seed_tickets: int | None) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest the pages link assets from
    from tickets.models import Ticket

    if seed_tickets and not Ticket.objects.exists():
        from bench.seed import seed

        seed(seed_tickets)


def timed(client, url: str, runs: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up: caches, connection, compiled templates
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {"median": statistics.median(times), "worst": max(times), "queries": len(queries)}


def manager_client():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from tiers.roles import MANAGERS_GROUP

    manager = get_user_model().objects.filter(groups__name=MANAGERS_GROUP).first()
    if manager is None:
        manager = get_user_model().objects.create_user("bench-manager", password="x")
        manager.groups.add(Group.objects.get(name=MANAGERS_GROUP))
    client = Client()
    client.force_login(manager)
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed-tickets", type=int, default=None)
    parser.add_argument("--no-live", action="store_true", help="Skip the live comparison (it takes minutes).")
    parser.add_argument("--no-rebuild", action="store_true", help="Keep the rollups already built.")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database holding the standard workload.")
    setup(args.seed_tickets)

    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from metrics.models import DailyMetrics, RollupState
    from tickets.models import Event, Ticket

    tickets, events = Ticket.objects.count(), Event.objects.count()
    print(f"{tickets:,} tickets, {events:,} events; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")

    if not args.no_rebuild or not RollupState.objects.exists():
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            call_command("rebuild_metrics", "--no-progress", stdout=quiet)
        rebuild_seconds = time.perf_counter() - started
        print(f"rebuild_metrics: {rebuild_seconds:.1f} s, {DailyMetrics.objects.count():,} rollup rows")

    started = time.perf_counter()
    from metrics import rollups

    refreshed = rollups.refresh()
    print(f"refresh with nothing changed: {(time.perf_counter() - started) * 1000:.0f} ms ({refreshed})")

    end = timezone.now()
    start = end - timedelta(days=365)
    summary_url = f"/api/v1/metrics/summary/?from={start.isoformat()}&to={end.isoformat()}".replace("+", "%2B")
    dashboard_url = "/dashboard/?period=365d"
    client = manager_client()
    results = {}
    for name, url in (("metrics", summary_url), ("dashboard", dashboard_url)):
        results[(name, "rollups")] = timed(client, url, args.runs)
    # The first request after a refresh rewrote rollups finds nothing kept for the new version.
    from django.core.cache import cache

    for name, url in (("metrics", summary_url), ("dashboard", dashboard_url)):
        cold = []
        for _ in range(3):
            cache.clear()
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            cold.append((time.perf_counter() - started) * 1000)
        results[(name, "rollups, first after a refresh")] = {"median": statistics.median(cold), "worst": max(cold),
                                                             "queries": None}
    if not args.no_live:
        state = RollupState.objects.get()
        RollupState.objects.all().delete()
        try:
            for name, url in (("metrics", summary_url), ("dashboard", dashboard_url)):
                results[(name, "live")] = timed(client, url, max(3, args.runs // 3))
        finally:
            state.save(force_insert=True)
    print()
    print("| request | source | median ms | worst ms | SQL queries |")
    print("|---|---|---:|---:|---:|")
    for (name, source), figures in results.items():
        queries = "" if figures["queries"] is None else figures["queries"]
        print(f"| {name} | {source} | {figures['median']:.0f} | {figures['worst']:.0f} | {queries} |")


if __name__ == "__main__":
    main()
