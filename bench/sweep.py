"""Benchmark: the SLA sweep with 10,000 tickets due at once, on PostgreSQL (and Redis, if REDIS_URL is set).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierdesk_bench REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/sweep.py [--tickets 10000] [--runs 3]

The database named in DATABASE_URL is dropped and re-created for each run.
Each run bulk-inserts the due tickets (L1, P1, tier time over, the warnings
already recorded), then times one `escalation.sweep()` in this process — one
worker — counting SQL queries. Events are published to the broker after each
batch commits, as in production.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import timedelta

import environment  # noqa: F401 — the project on the path and the bench settings, before Django starts


def recreate_database(url: str) -> None:
    import dj_database_url

    name = dj_database_url.parse(url)["NAME"]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True)


def seed(count: int):
    from django.utils import timezone

    from tickets.deadlines import Clock
    from tickets.models import Event, Requester, Ticket
    from tiers.models import Tier

    now = timezone.now()
    l1 = Tier.objects.get(code="L1")
    requester = Requester.objects.create(email="bench@example.com", name="Bench")
    created = now - timedelta(minutes=40)
    flags = Clock.RESPONSE.warned | Clock.RESPONSE.breached | Clock.ESCALATION.warned
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                subject=f"Printer {n} jams",
                description="bench",
                requester=requester,
                tier=l1,
                priority="P1",
                created_at=created,
                updated_at=created,
                response_due_at=created + timedelta(minutes=15),
                response_warn_at=created + timedelta(minutes=12),
                escalation_due_at=created + timedelta(minutes=30),
                escalation_warn_at=created + timedelta(minutes=24),
                resolution_due_at=created + timedelta(hours=4),
                resolution_warn_at=created + timedelta(minutes=192),
                sla_flags=flags,
                sla_next_check_at=created + timedelta(minutes=30),
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    Event.objects.bulk_create(
        [Event(ticket=t, kind="created", at=created, actor_role="customer", to_status="new", to_tier=l1,
               dispatched_at=created) for t in tickets],
        batch_size=2000,
    )


def run_once(count: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from tickets import escalation
    from tickets.models import Event

    connection.close()
    call_command("migrate", verbosity=0)
    seed(count)
    queries = []

    def counting(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            cProfile.runctx("counts = escalation.sweep()", globals(), ns := {"escalation": escalation},
                            os.environ["BENCH_PROFILE"])
            counts = ns["counts"]
        else:
            counts = escalation.sweep()
        elapsed = time.perf_counter() - started
    escalated = Event.objects.filter(kind="escalated").count()
    assert escalated == counts["escalated"] == count, (escalated, counts)
    return {"seconds": elapsed, "per_second": count / elapsed, "queries_per_ticket": len(queries) / count}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database the benchmark may drop and re-create.")

    import django

    results = []
    for run in range(args.runs):
        if run:
            from django.db import connections

            connections.close_all()  # the database is about to be dropped
        recreate_database(url)
        if run == 0:
            django.setup()
        results.append(run_once(args.tickets))
        print(f"run {run + 1}: {results[-1]['seconds']:.1f} s, {results[-1]['per_second']:.0f} escalations/s, "
              f"{results[-1]['queries_per_ticket']:.1f} queries/ticket", flush=True)
    from django.conf import settings

    seconds = [r["seconds"] for r in results]
    print(
        f"\nSLA sweep, {args.tickets} tickets due at once, {args.runs} runs, "
        f"broker {settings.CELERY_BROKER_URL.split(':')[0]}"
        f"\n  median {statistics.median(seconds):.1f} s, worst {max(seconds):.1f} s"
        f"\n  {statistics.median(r['per_second'] for r in results):.0f} escalations/s (median)"
        f"\n  {statistics.median(r['queries_per_ticket'] for r in results):.1f} SQL queries per escalated ticket"
        f"\n  machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
