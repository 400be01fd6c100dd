"""The full suite: Tierdesk measured at N = 10k, 100k and 1M tickets, over HTTP, against a real gunicorn.

    .venv/bin/python bench/run.py [--sizes 10000,100000,1000000] [--runs 30] [--warmup 8] [--workers 4]
        [--create-seconds 20] [--create-clients 16] [--no-sweep] [--sweep-runs 3] [--no-write]

For each N the database postgres://postgres@127.0.0.1:5432/tierdesk_bench_<10k|100k|1m> is migrated and
reused when it holds the standard workload of N tickets (WORKLOAD.md, `bench/seed.py`: ids 1..N); an empty or
missing one is seeded, one left half-seeded (fewer than N tickets) is re-created. A database holding anything
else is refused, never dropped. Tickets above id N (left by an interrupted run) are removed first. The script
then adds the 2,000 articles of `bench/suggest.py` when there are none, brings the metrics rollups up to date
the way beat does (`metrics.tasks.refresh_rollups`; a full `rebuild_metrics` the first time), and makes API
tokens for the manager and 16 agents.

It starts `gunicorn helpdesk.wsgi` (the production command of the Procfile, `--workers 4 --threads 1`, with
SERVER_TIMING=1, DEBUG=0, a bench SECRET_KEY, REDIS_URL=redis://127.0.0.1:6379/14 as cache and Celery broker,
so publishing an event is one quick Redis write; no Celery worker runs, the messages are dropped afterwards),
waits for /healthz and /readyz, and measures with `requests` sessions, one request at a time: the desk as the
agent l1-01 and the dashboard as the manager, both signed in through /accounts/login/ with the CSRF token;
the API with the manager's token. Each request is sent `--warmup` times, then `--runs` times; reported are
the median and p95 (nearest rank) of the server time (`Server-Timing: app;dur`, the whole Django stack in the
worker) and of the client's wall time, and the SQL queries per request (from the same header).

Then 16 clients (threads, one agent's token each) create tickets through `POST /api/v1/tickets/` with a unique
Idempotency-Key each for `--create-seconds` (after 2 s of warm-up): tickets/s, errors, latency. The workers'
resident memory is read from /proc afterwards, gunicorn is stopped (also on Ctrl-C or an error), and
everything the run created is deleted in one transaction with raw SQL: the tickets above id N and every row
that references them, found through the foreign keys in the catalogue (events, comments, notifications,
webhook deliveries and attempts, idempotency keys, suggestion uses, inbound records, ...), with
`session_replication_role = replica` as in `bench/seed.py`, which switches off the append-only trigger on
tickets_event (migration tickets 0002) and the foreign-key triggers for this transaction only.

Last, unless `--no-sweep`, the SLA sweep of `bench/sweep.py` (its own database `tierdesk_bench_sweep`,
re-created per run) with 10,000 tickets due at once.

The results are printed and written to bench/RESULTS.md (section "Full suite — N = 10k, 100k, 1M", replaced)
with the chart bench/latency.svg (p95 server time against N, log-log), unless `--no-write`.
"""
import argparse
import contextlib
import html
import json
import math
import os
import platform
import random
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import environment  # noqa: F401 — the project on the path and the bench settings, before Django starts

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# The code measured: this checkout, or (--rev) a commit exported with `git archive`, which the helper
# processes and gunicorn are told about through TIERDESK_BENCH_APP_ROOT.
APP_ROOT = Path(os.environ.get("TIERDESK_BENCH_APP_ROOT") or ROOT)
if APP_ROOT != ROOT:
    sys.path[:] = [str(APP_ROOT)] + [entry for entry in sys.path if entry not in (str(APP_ROOT), str(ROOT))]
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/14"
SWEEP_DB = "tierdesk_bench_sweep"
PASSWORD = "bench"  # bench/seed.py gives every seeded user this password
DESK_USER = "l1-01"
MANAGER = "manager"
CREATORS = [f"l1-{n:02d}" for n in range(1, 11)] + [f"l2-{n:02d}" for n in range(1, 7)]
IDEMPOTENCY_PREFIX = "bench-run-"
ARTICLES = 2000
VAR_DIR = Path(tempfile.gettempdir()) / "tierdesk-bench-run"
SECTION = "## Full suite — N = 10k, 100k, 1M"
# Columns whose rows stay when what they point to is deleted (Django's on_delete=SET_NULL on a row the bench
# did not create): nulled instead of deleted.
NULL_ON_DELETE = {("knowledge_article", "source_ticket_id")}
# Rows the script creates besides tickets (root of the clean-up), by table: a WHERE clause.
EXTRA_ROOTS = {"tickets_idempotencykey": f"key LIKE '{IDEMPOTENCY_PREFIX}%'"}

# Targets of the issue.
LIST_TARGET_MS = 100
LIST_RATIO = 1.5
SEARCH_TARGET_MS = 300
REPORT_TARGET_MS = 300
SUGGEST_TARGET_MS = 150  # median (bench/suggest.py's target)
CREATE_TARGET = 200
SWEEP_TARGET = 1000
RSS_TARGET_MB = 200


class BenchError(Exception):
    pass


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def nice(n: int) -> str:
    return label(n).upper() if label(n).endswith("m") else label(n)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    factor = 1
    if text.endswith("k"):
        text, factor = text[:-1], 1000
    elif text.endswith("m"):
        text, factor = text[:-1], 1_000_000
    return int(float(text) * factor)


def percentile(values, p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- helpers run in a subprocess with DATABASE_URL set (Django configured for one database) -------------


def sub_prepare(n: int, out: str) -> None:
    """Migrate, seed when empty, articles, rollups, tokens, samples; the facts go to `out` as JSON."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder
    from rest_framework.authtoken.models import Token

    from tickets.models import Ticket
    from tickets.workflow import OPEN_STATUSES

    started = time.perf_counter()
    applied = set(MigrationRecorder(connection).applied_migrations()) if \
        MigrationRecorder(connection).has_table() else set()
    call_command("migrate", verbosity=0)
    new = sorted(set(MigrationRecorder(connection).applied_migrations()) - applied)
    facts = {"migrate_s": time.perf_counter() - started, "migrations_applied": [f"{a}.{m}" for a, m in new]}
    if new and applied:
        # A migration may have built an index on an expression, whose statistics only ANALYZE gathers (the
        # planner guesses without them): as a deployment should, analyse before measuring.
        print(f"  migrations applied: {', '.join(facts['migrations_applied'])}; ANALYZE", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE id <= %s) FROM tickets_ticket", [n])
        total, seeded = cursor.fetchone()
    if total == 0:
        from bench.seed import seed

        print(f"  seeding {n:,} tickets (bench/seed.py)", flush=True)
        result = seed(n)
        facts["seeded_s"] = result["seconds"]["total"]
        total = seeded = n
    elif seeded != n:
        raise SystemExit(f"{connection.settings_dict['NAME']} holds {total:,} tickets, {seeded:,} of them with an id "
                         f"up to {n:,}: not the standard workload of {n:,} tickets. Refusing to touch it.")
    facts["tickets_total"] = total

    from knowledge.models import Article

    if not Article.objects.exists():
        from bench.suggest import create_articles

        print(f"  writing {ARTICLES:,} articles (bench/suggest.py)", flush=True)
        create_articles(ARTICLES, 42)
    from metrics.models import RollupState
    from metrics.tasks import refresh_rollups

    started = time.perf_counter()
    first = not RollupState.objects.filter(until_day__isnull=False).exists()
    if first:
        print("  building the metrics rollups (first time on this database)", flush=True)
    facts["rollups"] = refresh_rollups()  # what beat runs every METRICS_REFRESH_SECONDS
    facts["rollups_s"] = time.perf_counter() - started

    users = {user.username: user for user in get_user_model().objects.filter(username__in=[MANAGER, *CREATORS])}
    missing = {MANAGER, DESK_USER, *CREATORS} - set(users)
    if missing:
        raise SystemExit(f"seeded users missing: {sorted(missing)}")
    facts["tokens"] = {name: Token.objects.get_or_create(user=user)[0].key for name, user in users.items()}

    open_ids = list(Ticket.objects.filter(status__in=OPEN_STATUSES, id__lte=n).order_by("id")
                    .values_list("id", flat=True))
    open_sample = sorted(random.Random(42).sample(open_ids, 5))
    spread = [max(1, round(n * f)) for f in (0.1, 0.5, 0.9)]
    facts["ticket_sample"] = spread + open_sample[:3]
    facts["suggest_sample"] = open_sample
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, name FROM tickets_requester ORDER BY id LIMIT 5000")
        facts["requesters"] = cursor.fetchall()
        cursor.execute("SELECT slug FROM tickets_category WHERE is_active ORDER BY id")
        facts["categories"] = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT coalesce(max(id), 0) FROM tickets_requester")
        facts["requester_mark"] = cursor.fetchone()[0]
        for table in ("tickets_event", "tickets_comment", "knowledge_article"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            facts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tickets_ticket WHERE status = ANY(%s)", [list(OPEN_STATUSES)])
        facts["open"] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        facts["db_bytes"] = cursor.fetchone()[0]
    Path(out).write_text(json.dumps(facts, default=str))


def sub_sweep(tickets: int, runs: int, out: str) -> None:
    """bench/sweep.py's runs (its database re-created for each), the figures to `out` as JSON."""
    import django
    from django.db import connections

    from bench import sweep

    url = os.environ["DATABASE_URL"]
    results = []
    for run in range(runs):
        if run:
            connections.close_all()  # the database is about to be dropped
        sweep.recreate_database(url)
        if run == 0:
            django.setup()
        results.append(sweep.run_once(tickets))
        print(f"  sweep run {run + 1}: {results[-1]['seconds']:.1f} s, {results[-1]['per_second']:.0f} "
              f"escalations/s, {results[-1]['queries_per_ticket']:.1f} queries/ticket", flush=True)
    Path(out).write_text(json.dumps(results))


def run_helper(mode: str, database_url: str, *args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    try:
        env = {**bench_env(), "DATABASE_URL": database_url}
        completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), mode, *map(str, args), out],
                                   cwd=APP_ROOT, env=env)
        if completed.returncode:
            raise BenchError(f"{mode} on {database_url} failed (exit {completed.returncode})")
        return json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)


def bench_env() -> dict:
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": os.environ["SECRET_KEY"],  # bench/environment.py's, as the seeder used
        "DEBUG": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TIERDESK_VAR_DIR": str(VAR_DIR),
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "PYTHONPATH": str(APP_ROOT),
        "TIERDESK_BENCH_APP_ROOT": str(APP_ROOT),
    })
    return env


# --- PostgreSQL and Redis from this process -------------------------------------------------------------------


def pg(database: str):
    import psycopg2

    connection = psycopg2.connect(f"{PG}/{database}")
    connection.autocommit = True
    return connection


def database_state(name: str, n: int) -> str:
    """'missing', 'empty', 'partial' (fewer than n tickets: an interrupted seed) or 'ok'."""
    with pg("postgres") as admin, admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
    admin.close()
    if not exists:
        return "missing"
    connection = pg(name)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('tickets_ticket') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return "empty"
            cursor.execute("SELECT count(*) FROM tickets_ticket")
            total = cursor.fetchone()[0]
    finally:
        connection.close()
    if total == 0:
        return "empty"
    return "partial" if total < n else "ok"


def create_database(name: str, drop: bool = False) -> None:
    connection = pg("postgres")
    try:
        with connection.cursor() as cursor:
            if drop:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def cleanup(name: str, ticket_mark: int, requester_mark: int | None) -> dict:
    """Delete the tickets above `ticket_mark` (and requesters above `requester_mark`) and every row that
    references them, recursively through the catalogue's foreign keys, in one transaction; then vacuum."""
    connection = pg(name)
    connection.autocommit = False
    deleted: dict[str, int] = {}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            # As bench/seed.py: no user triggers (tickets_event is append-only) and no foreign-key triggers.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("""
                SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
                FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
                WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1
                  AND c.connamespace = 'public'::regnamespace
            """)
            foreign_keys = cursor.fetchall()
            cursor.execute("""
                SELECT i.indrelid::regclass::text, a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                JOIN pg_class t ON t.oid = i.indrelid
                WHERE i.indisprimary AND i.indnatts = 1 AND t.relnamespace = 'public'::regnamespace
            """)
            primary_key = dict(cursor.fetchall())
            gone: set[str] = set()

            def track(table: str) -> None:
                if table not in gone:
                    cursor.execute(f'CREATE TEMP TABLE "gone_{table}" (id bigint PRIMARY KEY) ON COMMIT DROP')
                    gone.add(table)

            roots = {"tickets_ticket": f"id > {int(ticket_mark)}", **EXTRA_ROOTS}
            if requester_mark is not None:
                roots["tickets_requester"] = f"id > {int(requester_mark)}"
            pending = []
            for table, where in roots.items():
                track(table)
                cursor.execute(f'INSERT INTO "gone_{table}" SELECT {primary_key[table]} FROM {table} WHERE {where}')
                if cursor.rowcount:
                    pending.append(table)
            nulled = Counter()
            while pending:
                parent = pending.pop()
                for child, column, parent_table, parent_column in foreign_keys:
                    if parent_table != parent:
                        continue
                    matches = (f"{column} IN (SELECT p.{parent_column} FROM {parent} p "
                               f'JOIN "gone_{parent}" g ON p.{primary_key[parent]} = g.id)')
                    if (child, column) in NULL_ON_DELETE:
                        cursor.execute(f"UPDATE {child} SET {column} = NULL WHERE {matches}")
                        nulled[f"{child}.{column}"] += cursor.rowcount
                        continue
                    if child not in primary_key:
                        cursor.execute(f"DELETE FROM {child} WHERE {matches}")
                        deleted[child] = deleted.get(child, 0) + cursor.rowcount
                        continue
                    track(child)
                    cursor.execute(f'INSERT INTO "gone_{child}" SELECT {primary_key[child]} FROM {child} '
                                   f"WHERE {matches} ON CONFLICT DO NOTHING")
                    if cursor.rowcount:
                        pending.append(child)
            for table in sorted(gone):
                cursor.execute(f'DELETE FROM {table} WHERE {primary_key[table]} IN (SELECT id FROM "gone_{table}")')
                if cursor.rowcount:
                    deleted[table] = deleted.get(table, 0) + cursor.rowcount
            if "tickets_ticket" in deleted:
                # The open-ticket counts, recounted as tickets.backlog.rebuild() does.
                cursor.execute("DELETE FROM tickets_backlogchange")
                cursor.execute("INSERT INTO tickets_backlogchange (tier_id, status, delta) "
                               "SELECT tier_id, status, COUNT(*) FROM tickets_ticket "
                               "WHERE status IN ('new', 'diagnosing', 'resolving', 'waiting') GROUP BY 1, 2")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    vacuum_seconds = 0.0
    if deleted:
        started = time.perf_counter()
        connection = pg(name)
        try:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) " + ", ".join(sorted(deleted)))
        finally:
            connection.close()
        vacuum_seconds = time.perf_counter() - started
    return {"deleted": deleted, "nulled": dict(nulled), "seconds": seconds, "vacuum_seconds": vacuum_seconds}


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=5)


# --- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`gunicorn helpdesk.wsgi` as in the Procfile, in its own session; stopped by its pid."""

    def __init__(self, database_url: str, workers: int, threads: int, tag: str, env: dict | None = None):
        self.database_url, self.workers, self.threads = database_url, workers, threads
        self.env = env or {}  # more settings for the server's environment, over the bench's (bench/load.py)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = VAR_DIR / f"gunicorn-{tag}.log"
        self.process = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "helpdesk.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                # Gunicorn's advice for its heartbeat files (as in the image): memory, not a disk that may block.
                "--worker-tmp-dir", "/dev/shm",  # noqa: S108 - heartbeat files only, nothing secret
                "--access-logfile", str(self.log.with_suffix(".access.log")), "--error-logfile", str(self.log)]

    def start(self) -> None:
        import requests

        env = {**bench_env(), "DATABASE_URL": self.database_url, "SERVER_TIMING": "1",
               # 16 clients creating for 20 s would meet the per-user limit (1200/min) instead of the server's:
               # the throttle still runs (a cache read and write per request), with a limit out of reach.
               "API_THROTTLE_USER": "1000000/min", **self.env}
        for path in (self.log, self.log.with_suffix(".access.log")):
            path.unlink(missing_ok=True)
        self.process = subprocess.Popen(self.command(), cwd=APP_ROOT, env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.process.returncode}); see {self.log}:\n{self.tail()}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200 and \
                        len(self.worker_pids()) == self.workers:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer /healthz within 90 s; see {self.log}:\n{self.tail()}")
            time.sleep(0.3)
        ready = requests.get(self.base + "/readyz", timeout=10)
        if ready.status_code != 200:  # the broker must be reachable, or every publish waits on it
            raise BenchError(f"/readyz answered {ready.status_code}: {ready.text}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return sizes

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM to the master: it stops its workers
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session this script started for it
            self.process.wait(10)


def cpu_snapshot(server: "Server") -> dict:
    """CPU seconds so far, per process: gunicorn, the PostgreSQL backends of its database (and their parallel
    workers), every other process ("others": a test suite, other databases' backends); this process (the load
    generator); and the whole machine."""
    ticks = os.sysconf("SC_CLK_TCK")

    def used(pid: int) -> tuple[str, float]:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return "", 0.0
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        return comm, (int(fields[11]) + int(fields[12])) / ticks

    ours = {server.process.pid, *server.worker_pids()}
    gunicorn = {pid: used(pid)[1] for pid in ours}
    database = server.database_url.rsplit("/", 1)[1].encode()
    postgres, others, workers = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        comm, seconds = used(pid)
        if comm.startswith("postgres"):
            try:  # "postgres: 15/main: postgres <db> 127.0.0.1(…)", "… parallel worker for PID <leader>"
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if database in title.split():
                postgres[pid] = seconds
                continue
            leader = re.search(rb"parallel worker for PID (\d+)", title)
            if leader:
                workers[pid] = (int(leader.group(1)), seconds)
                continue
        if seconds:
            others[pid] = seconds
    for pid, (leader, seconds) in workers.items():
        (postgres if leader in postgres else others)[pid] = seconds
    mine = os.times()
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return {"gunicorn": gunicorn, "postgres": postgres, "others": others, "client": mine.user + mine.system,
            "busy": (sum(values) - idle) / ticks, "total": sum(values) / ticks}


def cpu_used(before: dict, after: dict) -> dict:
    """CPU seconds between two snapshots; processes that started in between count from zero (those that ended
    in between are lost)."""
    used = {}
    for name in before:
        if isinstance(before[name], dict):
            used[name] = sum(seconds - before[name].get(pid, 0.0) for pid, seconds in after[name].items())
        else:
            used[name] = after[name] - before[name]
    used["busy_share"] = used["busy"] / used["total"] if used["total"] else 0.0
    return used


# --- clients ------------------------------------------------------------------------------------------------

TIMING = re.compile(r'app;dur=([\d.]+).*?sql;dur=([\d.]+);desc="(\d+) queries"')


def server_timing(response) -> tuple[float, int]:
    match = TIMING.search(response.headers.get("Server-Timing", ""))
    if not match:
        raise BenchError(f"no Server-Timing header on {response.request.method} {response.url} "
                         f"({response.status_code}); is SERVER_TIMING on?")
    return float(match.group(1)), int(match.group(3))


def signed_in(base: str, username: str):
    import requests

    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if page.status_code != 200 or not token:
        raise BenchError(f"no sign-in form ({page.status_code})")
    answer = session.post(base + "/accounts/login/", timeout=30, allow_redirects=False,
                          data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": PASSWORD,
                                "next": ""},
                          headers={"Referer": base + "/accounts/login/"})
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise BenchError(f"signing in as {username} failed ({answer.status_code})")
    return session


def with_token(key: str):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    return session


def clone(session):
    """A session with the same cookies and headers, for another thread."""
    import requests

    copy = requests.Session()
    copy.headers.update(session.headers)
    copy.cookies.update(session.cookies)
    return copy


def warm_up(session, base: str, urls: list[str], requests_: int, parallel: int) -> None:
    """`requests_` GETs from `parallel` clients at once, so that every gunicorn worker (each serves one request
    at a time) gets some: a worker's first request of a kind pays for its caches and compiled templates."""
    failures = []

    def client(offset: int) -> None:
        own = clone(session)
        for number in range(offset, requests_, parallel):
            url = urls[number % len(urls)]
            response = own.get(base + url, timeout=300, allow_redirects=False)
            if response.status_code != 200:
                failures.append(f"GET {url}: {response.status_code} {response.text[:300]!r}")
                return

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(max(1, parallel))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(failures[0])


def measure(session, base: str, urls: list[str], runs: int, warmup: int, parallel: int = 1) -> dict:
    """`warmup` GETs (from `parallel` clients), then `runs` GETs one at a time, cycling through `urls`; server
    and wall times and SQL queries."""
    warm_up(session, base, urls, warmup, parallel)
    server, wall, queries = [], [], []
    for number in range(runs):
        url = urls[number % len(urls)]
        started = time.perf_counter()
        response = session.get(base + url, timeout=300, allow_redirects=False)
        wall.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise BenchError(f"GET {url}: {response.status_code} {response.text[:300]!r}")
        took, count = server_timing(response)
        server.append(took)
        queries.append(count)
    return {
        "server_median": statistics.median(server), "server_p95": percentile(server, 95),
        "wall_median": statistics.median(wall), "wall_p95": percentile(wall, 95),
        "queries_min": min(queries), "queries_max": max(queries), "queries_median": statistics.median(queries),
        "server": server,
    }


# The measured requests: (name, who, description, group). URLs are filled in per database.
REQUESTS = [
    ("queue-tier", "desk", "desk queue: open tickets of L1, first page", "list"),
    ("queue-mine", "desk", "desk queue: my tickets (l1-01)", "list"),
    ("queue-open", "desk", "desk queue: all open", "list"),
    ("list-all", "desk", "all tickets, newest first, first page", "list"),
    ("ticket", "desk", "ticket page with its timeline (6 tickets in turn)", "list"),
    ("search", "desk", "desk search `printer` (open queue)", "search"),
    ("api-search", "api", "`GET /api/v1/tickets/?q=printer`", "search"),
    ("api-list", "api", "`GET /api/v1/tickets/` first page", "list"),
    ("api-status", "api", "`GET /api/v1/tickets/?status=new`", "list"),
    ("api-tier", "api", "`GET /api/v1/tickets/?tier=L2`", "list"),
    ("api-priority", "api", "`GET /api/v1/tickets/?priority=P1`", "list"),
    ("api-created-after", "api", "`GET /api/v1/tickets/?created_after=` 7 days ago", "list"),
    ("api-filters", "api", "`GET /api/v1/tickets/?status=new&status=diagnosing&tier=L1&priority=P2&priority=P3"
     "&created_after=` 90 days", "list"),
    ("dashboard", "manager", "`/dashboard/?period=365d` (manager)", "report"),
    ("metrics", "api", "`GET /api/v1/metrics/summary/` for 365 days", "report"),
    ("suggestions", "desk", "`GET /desk/kb/ticket/<pk>/suggestions/` (5 open tickets in turn)", "suggest"),
]


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def request_urls(facts: dict, desk_has_all: bool) -> dict:
    now = datetime.now(UTC)
    week, quarter, year = iso(now - timedelta(days=7)), iso(now - timedelta(days=90)), now - timedelta(days=365)
    return {
        "queue-tier": ["/desk/?queue=open&tier=L1"],
        "queue-mine": ["/desk/?queue=mine"],
        "queue-open": ["/desk/?queue=open"],
        "list-all": (["/desk/?queue=all&sort=-created_at"] if desk_has_all
                     else ["/api/v1/tickets/?ordering=-created_at"]),
        "ticket": [f"/desk/t/{pk}/" for pk in facts["ticket_sample"]],
        "search": ["/desk/?queue=open&q=printer"],
        "api-search": ["/api/v1/tickets/?q=printer"],
        "api-list": ["/api/v1/tickets/"],
        "api-status": ["/api/v1/tickets/?status=new"],
        "api-tier": ["/api/v1/tickets/?tier=L2"],
        "api-priority": ["/api/v1/tickets/?priority=P1"],
        "api-created-after": [f"/api/v1/tickets/?created_after={week}"],
        # Every filter at once, wide enough to fill a page (50) at 10k too: sizes compare like with like.
        "api-filters": ["/api/v1/tickets/?status=new&status=diagnosing&tier=L1&priority=P2&priority=P3"
                        f"&created_after={quarter}"],
        "dashboard": ["/dashboard/?period=365d"],
        "metrics": [f"/api/v1/metrics/summary/?from={iso(year)}&to={iso(now)}"],
        "suggestions": [f"/desk/kb/ticket/{pk}/suggestions/" for pk in facts["suggest_sample"]],
    }


# --- ticket creation ----------------------------------------------------------------------------------------


def create_tickets(base: str, facts: dict, clients: int, seconds: float, warmup_seconds: float = 2.0,
                   snapshot=None) -> dict:
    """`clients` threads, one agent's API token each, POST tickets until the time is up."""
    from bench.seed import ASKS, CONTEXTS, ITEMS, PRIORITIES, PROBLEMS, QUALIFIERS

    requesters = facts["requesters"]
    weights = [1 / rank**0.8 for rank in range(1, len(requesters) + 1)]  # WORKLOAD.md: Zipf-like
    categories = [slug for slug in facts["categories"] if slug in ITEMS] or [None]
    tokens = [facts["tokens"][name] for name in CREATORS[:clients]] if clients <= len(CREATORS) else \
        [facts["tokens"][CREATORS[n % len(CREATORS)]] for n in range(clients)]

    def payload(rng: random.Random) -> dict:
        slug = rng.choice(categories)
        item = rng.choice(ITEMS[slug] if slug else ["printer"])
        subject = f"{item} {rng.choice(PROBLEMS)} {rng.choice(QUALIFIERS)}".strip()
        email, name = rng.choices(requesters, weights)[0]
        return {"subject": subject[0].upper() + subject[1:], "description": f"{subject}. {rng.choice(CONTEXTS)} "
                f"{rng.choice(ASKS)}", "requester": {"email": email, "name": name},
                "priority": rng.choices(list(PRIORITIES), list(PRIORITIES.values()))[0], "category": slug,
                "channel": "api"}

    def phase(duration: float) -> dict:
        results = [[] for _ in range(clients)]
        start = threading.Barrier(clients + 1)
        finished = [0.0] * clients

        def client(number: int) -> None:
            session = with_token(tokens[number])
            rng = random.Random(f"create/{number}/{duration}")
            start.wait()
            deadline = begin[0] + duration
            while time.perf_counter() < deadline:
                body = payload(rng)
                headers = {"Idempotency-Key": f"{IDEMPOTENCY_PREFIX}{uuid.uuid4()}"}
                sent = time.perf_counter()
                try:
                    response = session.post(base + "/api/v1/tickets/", json=body, headers=headers, timeout=60)
                    wall = (time.perf_counter() - sent) * 1000
                    took, count = server_timing(response) if "Server-Timing" in response.headers else (None, None)
                    results[number].append((response.status_code, wall, took, count))
                except Exception as exc:
                    results[number].append((type(exc).__name__, (time.perf_counter() - sent) * 1000, None, None))
            finished[number] = time.perf_counter()

        begin = [0.0]
        threads = [threading.Thread(target=client, args=(number,), daemon=True) for number in range(clients)]
        for thread in threads:
            thread.start()
        begin[0] = time.perf_counter()
        start.wait()
        for thread in threads:
            thread.join()
        elapsed = max(finished) - begin[0]
        rows = [row for rows in results for row in rows]
        ok = [row for row in rows if row[0] == 201]
        statuses = Counter(str(row[0]) for row in rows if row[0] != 201)
        figures = {"clients": clients, "seconds": elapsed, "requests": len(rows), "created": len(ok),
                   "errors": len(rows) - len(ok),
                   "error_kinds": dict(statuses), "per_second": len(ok) / elapsed if elapsed else 0.0}
        if ok:
            walls = [row[1] for row in ok]
            servers = [row[2] for row in ok if row[2] is not None]
            figures.update(wall_median=statistics.median(walls), wall_p95=percentile(walls, 95))
            if servers:
                figures.update(server_median=statistics.median(servers), server_p95=percentile(servers, 95),
                               queries_median=statistics.median(row[3] for row in ok if row[3] is not None))
        return figures

    if warmup_seconds:
        phase(warmup_seconds)
    if not snapshot:
        return phase(seconds)
    # Snapshots every half second, keeping each process's last reading: a PostgreSQL backend that ends during
    # the phase (Django reconnects after DB_CONN_MAX_AGE) keeps the CPU it had used by then.
    before, latest, done = snapshot(), {}, threading.Event()

    def sample() -> None:
        while True:
            merge(latest, snapshot())
            if done.wait(0.5):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        figures = phase(seconds)
    finally:
        done.set()
        sampler.join()
    merge(latest, snapshot())
    figures["cpu_before"], figures["cpu_after"] = before, latest
    return figures


def merge(latest: dict, reading: dict) -> None:
    """Fold a CPU snapshot into `latest`: per-process readings keep every process seen."""
    for name, value in reading.items():
        if isinstance(value, dict):
            latest.setdefault(name, {}).update(value)
        else:
            latest[name] = value


# --- one size -----------------------------------------------------------------------------------------------


def run_size(n: int, args) -> dict:
    import requests

    name = f"tierdesk_bench_{label(n)}"
    url = f"{PG}/{name}"
    print(f"\n=== N = {n:,}: {name}", flush=True)
    state = database_state(name, n)
    if state == "missing":
        print("  creating the database", flush=True)
        create_database(name)
    elif state == "partial":
        print(f"  the database holds fewer than {n:,} tickets (an interrupted seed): re-creating it", flush=True)
        create_database(name, drop=True)
    redis_client().flushdb()  # the cache (rollup-derived numbers, throttle) and the broker of the bench only
    started = time.perf_counter()
    facts = run_helper("_prepare", url, n)
    print(f"  ready in {time.perf_counter() - started:.0f} s: {facts['tickets_total']:,} tickets, "
          f"{facts['tickets_event']:,} events, {facts['tickets_comment']:,} comments, {facts['knowledge_article']:,} "
          f"articles, {facts['db_bytes'] / 2**30:.1f} GiB; rollups {facts['rollups']} in {facts['rollups_s']:.0f} s",
          flush=True)
    result = {"n": n, "database": name, "facts": {k: v for k, v in facts.items() if k not in ("requesters", "tokens")}}
    if facts["tickets_total"] > n:
        print(f"  removing {facts['tickets_total'] - n:,} tickets left above id {n:,} by an earlier run", flush=True)
        result["leftovers"] = cleanup(name, n, None)

    server = Server(url, args.workers, args.threads, label(n))
    wait_quiet(args.wait_quiet)
    result["load_before"] = os.getloadavg()
    result["busy_before"] = machine_busy()
    if result["busy_before"] > 0.25:
        print(f"  note: the machine is {result['busy_before']:.0%} busy before the measurement (other work)",
              flush=True)
    created_any = False
    try:
        result["code"] = code_version()  # what gunicorn loads now
        server.start()
        print(f"  gunicorn up at {server.base}: workers {server.worker_pids()} · {version_text(result['code'])}",
              flush=True)
        desk = signed_in(server.base, DESK_USER)
        manager = signed_in(server.base, MANAGER)
        api = with_token(facts["tokens"][MANAGER])
        page = desk.get(server.base + "/desk/?queue=all", timeout=60).text
        desk_has_all = 'data-queue="all" aria-current="page"' in page
        result["list_all_source"] = "desk" if desk_has_all else "api"
        sessions = {"desk": desk, "manager": manager, "api": api}
        urls = request_urls(facts, desk_has_all)
        measured = {}
        for request_name, who, _description, _group in REQUESTS:
            session = sessions["api" if request_name == "list-all" and not desk_has_all else who]
            for attempt in range(3):
                before = cpu_snapshot(server)
                try:
                    figures = measure(session, server.base, urls[request_name], args.runs, args.warmup,
                                      parallel=args.workers)
                except (BenchError, requests.RequestException) as exc:
                    figures = {"error": str(exc)[:300]}
                    print(f"  {request_name:<18} FAILED: {exc}", flush=True)
                    break
                figures["others"] = others_share(cpu_used(before, cpu_snapshot(server)))
                # Other work on the machine (a test suite) stretches a one-client measurement: with
                # --wait-quiet, wait for it to stop and measure this request again (twice at most).
                if figures["others"] < OTHERS_LIMIT or not args.wait_quiet or attempt == 2:
                    break
                print(f"  {request_name:<18} other work took {figures['others']:.0%} of the machine meanwhile: "
                      "measuring again", flush=True)
                wait_quiet(args.wait_quiet)
            measured[request_name] = figures
            if "error" not in figures:
                print(f"  {request_name:<18} server median {figures['server_median']:7.1f} ms, p95 "
                      f"{figures['server_p95']:7.1f} ms · wall median {figures['wall_median']:7.1f} ms, p95 "
                      f"{figures['wall_p95']:7.1f} ms · {queries_text(figures)} queries · others "
                      f"{figures['others']:.0%}", flush=True)
        result["requests"] = measured
        result["urls"] = {k: v[0] for k, v in urls.items()}
        if args.create_seconds > 0:
            waited_from = time.monotonic()
            wait_quiet(args.wait_quiet)
            result["create_waited"] = time.monotonic() - waited_from
            print(f"  creating tickets: {args.create_clients} clients for {args.create_seconds:g} s", flush=True)
            created_any = True
            queued_before = queue_length()
            creation = create_tickets(server.base, facts, args.create_clients, args.create_seconds,
                                      snapshot=lambda: cpu_snapshot(server))
            creation["cpu"] = cpu_used(creation.pop("cpu_before"), creation.pop("cpu_after"))
            creation["published_messages"] = queue_length() - queued_before
            result["create"] = creation
            print(f"  created {creation['created']:,} tickets in {creation['seconds']:.1f} s: "
                  f"{creation['per_second']:.0f}/s, {creation['errors']} errors {creation['error_kinds'] or ''}, "
                  f"wall median {creation.get('wall_median', 0):.0f} ms, p95 {creation.get('wall_p95', 0):.0f} ms; "
                  f"{creation['published_messages']:,} event messages published to Redis; {cpu_text(creation)}",
                  flush=True)
        rss = server.rss_mb()
        result["rss_mb"] = rss
        result["load_after"] = os.getloadavg()
        print(f"  worker RSS: {', '.join(f'{size:.0f}' for size in rss)} MB", flush=True)
    finally:
        server.stop()
        if created_any:
            removed = cleanup(name, n, facts["requester_mark"])
            result["cleanup"] = removed
            print(f"  removed what the run created in {removed['seconds']:.1f} s (vacuum "
                  f"{removed['vacuum_seconds']:.1f} s): {removed['deleted']}", flush=True)
        # Best effort, in a finally: a broker already gone must not hide what went wrong in the run.
        with contextlib.suppress(Exception):
            redis_client().flushdb()
    return result


def cpu_text(creation: dict) -> str:
    """Where the CPU went during the creation phase (includes warm-up of 2 s)."""
    cpu = creation.get("cpu")
    if not cpu:
        return ""
    per = 1000 / max(creation["created"], 1)
    cores = os.cpu_count() or 1
    seconds = creation["seconds"]
    other = cpu.get("others", 0.0)
    return (f"CPU over the phase: machine {cpu['busy_share']:.0%} busy; per ticket created "
            f"{cpu['gunicorn'] * per:.1f} ms in gunicorn, {cpu['postgres'] * per:.1f} ms in PostgreSQL, "
            f"{cpu['client'] * per:.1f} ms in the load generator; everything else on the machine "
            f"{other / seconds / cores:.0%} of its {cores} cores")


OTHERS_LIMIT = 0.1  # share of the machine other processes may take while requests are measured


def others_share(used: dict) -> float:
    """Share of the machine's CPU that processes other than gunicorn, this database's PostgreSQL backends and
    this script took between two snapshots (processes that lived through both)."""
    return max(0.0, used["others"] / used["total"]) if used["total"] else 0.0


def wait_quiet(limit: float, threshold: float = 0.2) -> None:
    """Wait (up to `limit` seconds) until other work leaves the machine below `threshold` busy: on a shared
    machine a test suite on the other core halves what a CPU-bound measurement can do."""
    if limit <= 0:
        return
    started = time.monotonic()
    told = False
    quiet = 0
    while quiet < 3:  # three readings of 3 s in a row: a test suite is bursty
        busy = machine_busy()
        if busy < threshold:
            quiet += 1
            continue
        quiet = 0
        waited = time.monotonic() - started
        if waited >= limit:
            print(f"  still {busy:.0%} busy after {waited:.0f} s: measuring anyway", flush=True)
            return
        if not told:
            print(f"  the machine is {busy:.0%} busy with other work: waiting up to {limit:.0f} s", flush=True)
            told = True
        time.sleep(10)
    if told:
        print(f"  quiet after {time.monotonic() - started:.0f} s", flush=True)


def machine_busy(seconds: float = 3.0) -> float:
    """Share of the machine's CPU in use over a few seconds (other work running before a measurement)."""
    def read():
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(values), values[3] + values[4]

    total, idle = read()
    time.sleep(seconds)
    total2, idle2 = read()
    return 1 - (idle2 - idle) / max(total2 - total, 1)


def queue_length() -> int:
    """Messages waiting in the Celery queue (no worker runs during the benchmark)."""
    try:
        return int(redis_client().llen("tierdesk"))
    except Exception:
        return 0


def queries_text(figures: dict) -> str:
    if "error" in figures:
        return "—"
    if figures["queries_min"] == figures["queries_max"]:
        return str(figures["queries_min"])
    return f"{figures['queries_min']}–{figures['queries_max']}"


def export_revision(revision: str) -> Path:
    """The committed tree of `revision`, exported once with `git archive` (nothing in the checkout changes)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{revision}^{{commit}}"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    target = VAR_DIR / f"src-{sha[:12]}"
    if not (target / "manage.py").exists():
        partial = VAR_DIR / f"src-{sha[:12]}.partial"
        subprocess.run(["rm", "-rf", str(partial)], check=True)
        partial.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", sha], cwd=ROOT, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout, check=True)
        if archive.wait():
            raise BenchError(f"git archive {sha} failed")
        partial.rename(target)
    return target


def code_version() -> dict:
    """The commit checked out and the files changed but not committed outside bench/ (they are measured too);
    with --rev, the exported commit alone."""
    if APP_ROOT != ROOT:
        sha = APP_ROOT.name.removeprefix("src-")
        subject = subprocess.run(["git", "log", "-1", "--format=%s", sha], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip()
        return {"commit": sha[:7], "subject": subject[:100], "changed": [], "exported": True}
    def git(*args) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
               if line[3:] and not line[3:].startswith("bench/")]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "subject": git("log", "-1", "--format=%s")[:100],
            "changed": changed}


def version_text(version: dict) -> str:
    text = f"commit `{version['commit']}`"
    if version.get("exported"):
        text += " (exported with `git archive`: --rev)"
    if version["changed"]:
        text += f" plus uncommitted changes to {', '.join(f'`{name}`' for name in version['changed'][:8])}"
        if len(version["changed"]) > 8:
            text += f" and {len(version['changed']) - 8} more files"
    return text


# --- the report ---------------------------------------------------------------------------------------------


def machine() -> dict:
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    connection = pg("postgres")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    connection.close()
    import gunicorn

    return {"arch": platform.machine(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory / 2**30,
            "system": platform.platform(terse=True), "python": platform.python_version(), "postgres": postgres,
            "postgres_settings": settings, "redis": redis_client().info("server").get("redis_version", "?"),
            "gunicorn": gunicorn.__version__}


def evaluate(results: list[dict], sweep: dict | None) -> list[dict]:
    """Each target with what was measured and whether it is met (None: not measured)."""
    by_n = {result["n"]: result for result in results}
    sizes = sorted(by_n)
    small, large = sizes[0], sizes[-1]
    rows = []

    def p95(name, n):
        figures = by_n[n].get("requests", {}).get(name, {})
        return figures.get("server_p95")

    def median(name, n):
        return by_n[n].get("requests", {}).get(name, {}).get("server_median")

    def worst(names, limit, what):
        for name in names:
            values = [(p95(name, n), n) for n in sizes]
            if any(value is None for value, _n in values):
                rows.append({"target": f"{name}: {what} ≤ {limit} ms", "measured": "failed", "met": False})
                continue
            value, at = max(values)
            rows.append({"target": f"{name}: {what} ≤ {limit} ms", "measured": f"{value:.0f} ms at {nice(at)}",
                         "met": value <= limit})

    lists = [name for name, _who, _d, group in REQUESTS if group == "list"]
    worst(lists, LIST_TARGET_MS, "p95 server")
    for name in lists:
        if large == small:
            rows.append({"target": f"{name}: p95 at 1M ≤ {LIST_RATIO}× at 10k", "measured": "needs two sizes",
                         "met": None})
            continue
        a, b = p95(name, small), p95(name, large)
        if a is None or b is None:
            rows.append({"target": f"{name}: p95 {nice(large)} ≤ {LIST_RATIO}× {nice(small)}", "measured": "failed",
                         "met": False})
            continue
        rows.append({"target": f"{name}: p95 {nice(large)} ≤ {LIST_RATIO}× {nice(small)}",
                     "measured": f"{b / a:.2f}× ({a:.0f} → {b:.0f} ms)", "met": b / a <= LIST_RATIO})
    worst([name for name, _w, _d, group in REQUESTS if group == "search"], SEARCH_TARGET_MS, "p95 server")
    worst([name for name, _w, _d, group in REQUESTS if group == "report"], REPORT_TARGET_MS, "p95 server")
    values = [(median("suggestions", n), n) for n in sizes]
    if all(value is not None for value, _n in values):
        value, at = max(values)
        rows.append({"target": f"suggestions: median server ≤ {SUGGEST_TARGET_MS} ms (bench/suggest.py)",
                     "measured": f"{value:.0f} ms at {nice(at)}", "met": value <= SUGGEST_TARGET_MS})
    for n in sizes:
        creation = by_n[n].get("create")
        if not creation:
            continue
        rows.append({"target": f"creation at {nice(n)}: ≥ {CREATE_TARGET}/s with {creation.get('clients', 16)} "
                               "clients, 0 errors",
                     "measured": f"{creation['per_second']:.0f}/s, {creation['errors']} errors",
                     "met": creation["per_second"] >= CREATE_TARGET and creation["errors"] == 0})
    if sweep:
        rows.append({"target": f"SLA sweep ≥ {SWEEP_TARGET:,} escalations/s",
                     "measured": f"{sweep['per_second']:.0f}/s (median of {len(sweep['runs'])})",
                     "met": sweep["per_second"] >= SWEEP_TARGET})
    else:
        rows.append({"target": f"SLA sweep ≥ {SWEEP_TARGET:,} escalations/s", "measured": "not run", "met": None})
    rss = [(max(by_n[n]["rss_mb"]), n) for n in sizes if by_n[n].get("rss_mb")]
    if rss:
        value, at = max(rss)
        rows.append({"target": f"worker RSS ≤ {RSS_TARGET_MB} MB", "measured": f"max {value:.0f} MB at {nice(at)}",
                     "met": value <= RSS_TARGET_MB})
    grows = []
    for name, _who, _d, _g in REQUESTS:
        # The fewest per N: a worker's first request of a kind may add one (a per-process cache filling up).
        counts = [by_n[n].get("requests", {}).get(name, {}).get("queries_min") for n in sizes]
        if None not in counts and any(count > counts[0] for count in counts[1:]):
            grows.append(f"{name} {' → '.join(map(str, counts))}")
    rows.append({"target": "no endpoint's query count grows with N",
                 "measured": "grows: " + "; ".join(grows) if grows else ("same at every N" if len(sizes) > 1
                                                                        else "one size only"),
                 "met": (not grows) if len(sizes) > 1 else None})
    return rows


def verdict(met) -> str:
    return "—" if met is None else ("met" if met else "**NOT met**")


def report(results: list[dict], sweep: dict | None, host: dict, args, command: str) -> str:
    sizes = [result["n"] for result in results]
    by_n = {result["n"]: result for result in results}
    descriptions = {name: description for name, _who, description, _group in REQUESTS}
    lines = [SECTION, ""]
    lines.append(
        f"{datetime.now(UTC):%Y-%m-%d} · {host['arch']}, {host['cores']} cores ({host['cpu']}), "
        f"{host['memory_gib']:.0f} GiB · {host['system']} · Python {host['python']} · PostgreSQL {host['postgres']} "
        f"(shared_buffers {host['postgres_settings']['shared_buffers']}, work_mem "
        f"{host['postgres_settings']['work_mem']}; the app's connections run with jit=off) · Redis {host['redis']} · "
        f"gunicorn {host['gunicorn']}, {args.workers} sync workers × {args.threads} thread, `SERVER_TIMING=1`, "
        f"`DEBUG=0` · sizes measured in this run: {', '.join(nice(n) for n in sizes)}")
    versions = {version_text(result["code"]) for result in results if result.get("code")}
    if len(versions) == 1:
        lines += ["", f"Code measured: {versions.pop()}."]
    elif versions:
        lines += ["", "**The code changed during the run** (other commits landed): "
                  + "; ".join(f"{nice(result['n'])} on {version_text(result['code'])}" for result in results
                              if result.get("code")) + "."]
    lines += ["", "```sh", command, "```", ""]
    lines.append(
        f"One client, one request at a time over loopback HTTP: {args.warmup} warm-up requests, then "
        f"{args.runs} measured, per request. *Server* is `Server-Timing: app;dur` — the whole Django stack in the "
        "worker (middleware, queries, rendering); *wall* is the client's round trip. p95 is the nearest rank of "
        f"{args.runs}. The desk is read as the agent `{DESK_USER}`, the dashboard as `{MANAGER}` (both signed in "
        "through the login form), the API with the manager's token. SQL queries per request come from the same "
        "header; a range means they varied between runs (the ticket page and suggestions cycle through several "
        "tickets).")
    if any(result.get("list_all_source") == "api" for result in results):
        lines.append("")
        lines.append("The desk has no list of all tickets (its queues are open work only; an unknown `queue` falls "
                     "back to all open), so **list-all** is the API's list of all tickets newest first, "
                     "`GET /api/v1/tickets/?ordering=-created_at`.")
    for n in sizes:
        result = by_n[n]
        facts = result["facts"]
        lines += ["", f"### N = {nice(n)} — `{result['database']}`", ""]
        load = ""
        if result.get("load_before") and result.get("load_after"):
            load = (f" Load average (1 min) {result['load_before'][0]:.1f} before the requests, "
                    f"{result['load_after'][0]:.1f} after the creation phase; the machine was "
                    f"{result.get('busy_before', 0):.0%} busy with other work just before.")
        shares = [f["others"] for f in result.get("requests", {}).values() if "others" in f]
        if shares:
            load += (f" Other processes took at most {max(shares):.0%} of the machine while a request was "
                     "measured.")
        migrations = ""
        if facts.get("migrations_applied"):
            migrations = (f" Migrations applied before measuring: {', '.join(facts['migrations_applied'])} "
                          "(then ANALYZE).")
        lines.append(f"{facts['tickets_total']:,} tickets ({facts['open']:,} open), {facts['tickets_event']:,} "
                     f"events, {facts['tickets_comment']:,} comments, {facts['knowledge_article']:,} articles; "
                     f"{facts['db_bytes'] / 2**30:.1f} GiB.{migrations}{load}")
        lines += ["", "| request | what | median server ms | p95 server ms | median wall ms | p95 wall ms "
                      "| SQL queries |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for name, _who, _d, _g in REQUESTS:
            figures = result.get("requests", {}).get(name)
            description = descriptions[name]
            if name == "list-all" and result.get("list_all_source") == "api":
                description = "all tickets newest first: `GET /api/v1/tickets/?ordering=-created_at`"
            if not figures or "error" in figures:
                lines.append(f"| {name} | {description} | failed: {(figures or {}).get('error', 'not run')[:80]} "
                             "| | | | |")
                continue
            lines.append(f"| {name} | {description} | {figures['server_median']:.1f} | {figures['server_p95']:.1f} | "
                         f"{figures['wall_median']:.1f} | {figures['wall_p95']:.1f} | {queries_text(figures)} |")
        creation = result.get("create")
        if creation:
            lines.append("")
            kinds = ", ".join(f"{k}: {v}" for k, v in creation["error_kinds"].items())
            lines.append(
                f"Creation, `POST /api/v1/tickets/` with {args.create_clients} clients for "
                f"{args.create_seconds:g} s: **{creation['per_second']:.0f} tickets/s** ({creation['created']:,} in "
                f"{creation['seconds']:.1f} s), {creation['errors']} errors{f' ({kinds})' if kinds else ''}; "
                f"wall median {creation.get('wall_median', 0):.0f} ms, p95 {creation.get('wall_p95', 0):.0f} ms; "
                f"server median {creation.get('server_median', 0):.0f} ms, p95 {creation.get('server_p95', 0):.0f} ms, "
                f"{creation.get('queries_median', 0):.0f} SQL queries; {creation['published_messages']:,} event "
                f"messages published to Redis. {cpu_text(creation)}.")
        if result.get("cleanup"):
            removed = result["cleanup"]
            rows = ", ".join(f"{table} {count:,}" for table, count in sorted(removed["deleted"].items()))
            lines.append(f"Removed afterwards ({removed['seconds']:.1f} s + vacuum {removed['vacuum_seconds']:.1f} "
                         f"s): {rows}.")
        if result.get("rss_mb"):
            rss = result["rss_mb"]
            lines.append(f"Worker RSS after the run: {', '.join(f'{size:.0f}' for size in rss)} MB — max "
                         f"{max(rss):.0f} MB, sum {sum(rss):.0f} MB.")
    if sweep:
        run_seconds = ", ".join(f"{run['seconds']:.1f} s" for run in sweep["runs"])
        lines += ["", f"SLA sweep (`bench/sweep.py`, 10,000 tickets due at once, its own database, one process): "
                      f"**{sweep['per_second']:.0f} escalations/s** (median of {len(sweep['runs'])} runs: "
                      f"{run_seconds}), "
                      f"{sweep['queries_per_ticket']:.1f} SQL queries per escalated ticket; the machine was "
                      f"{sweep.get('busy_before', 0):.0%} busy with other work just before."]
    lines += ["", "### p95 server time against N, and the targets", ""]
    header = "| request | " + " | ".join(f"p95 {nice(n)} ms" for n in sizes)
    ratio = len(sizes) > 1
    if ratio:
        header += f" | p95 {nice(sizes[-1])} / {nice(sizes[0])} | median {nice(sizes[-1])} / {nice(sizes[0])} |"
    else:
        header += " |"
    lines += [header, "|---|" + "---:|" * (len(sizes) + (2 if ratio else 0))]
    for name, _who, _d, _g in REQUESTS:
        values = [by_n[n].get("requests", {}).get(name, {}).get("server_p95") for n in sizes]
        medians = [by_n[n].get("requests", {}).get(name, {}).get("server_median") for n in sizes]
        cells = ["failed" if value is None else f"{value:.1f}" for value in values]
        row = f"| {name} | " + " | ".join(cells)
        if ratio:
            for series in (values, medians):
                row += (f" | {series[-1] / series[0]:.2f}×" if None not in (series[0], series[-1]) else " |")
            row += " |"
        else:
            row += " |"
        lines.append(row)
    lines += ["", "![p95 server time against N, per request](latency.svg)", ""]
    lines += ["| target | measured (worst) | |", "|---|---|---|"]
    for row in evaluate(results, sweep):
        lines.append(f"| {row['target']} | {row['measured']} | {verdict(row['met'])} |")
    return "\n".join(lines) + "\n"


def write_results(section: str, heading: str = SECTION) -> None:
    """Replace the section under `heading` in bench/RESULTS.md, or add it at the end; the others stay as they are."""
    path = BENCH / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


# --- the chart ----------------------------------------------------------------------------------------------

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd"]


def chart(results: list[dict]) -> str:
    """p95 server time against N, one line per request; log-scaled axes; plain SVG."""
    sizes = sorted(result["n"] for result in results)
    by_n = {result["n"]: result for result in results}
    series = []
    for name, _who, _d, _g in REQUESTS:
        points = [(n, by_n[n].get("requests", {}).get(name, {}).get("server_p95")) for n in sizes]
        points = [(n, value) for n, value in points if value]
        if points:
            series.append((name, points))
    width, height = 980, 560
    left, right, top, bottom = 70, 250, 50, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [value for _name, points in series for _n, value in points] or [1.0]
    y_low = 10 ** math.floor(math.log10(max(min(values), 0.1)))
    y_high = 10 ** math.ceil(math.log10(max(max(values), SEARCH_TARGET_MS) * 1.05))
    x_low, x_high = math.log10(sizes[0]), math.log10(sizes[-1])
    if x_low == x_high:
        x_low, x_high = x_low - 0.5, x_high + 0.5
    else:
        pad = (x_high - x_low) * 0.06
        x_low, x_high = x_low - pad, x_high + pad

    def x(n):
        return left + (math.log10(n) - x_low) / (x_high - x_low) * plot_w

    def y(ms):
        return top + plot_h - (math.log10(ms) - math.log10(y_low)) / (math.log10(y_high) - math.log10(y_low)) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{left}" y="24" font-size="15" font-weight="bold">p95 server time (Server-Timing app) against '
           'the number of tickets</text>',
           f'<text x="{left}" y="40" fill="#555">bench/run.py · {datetime.now(UTC):%Y-%m-%d} · gunicorn, PostgreSQL, '
           'Redis · both axes logarithmic · dashed: API</text>']
    decade = y_low
    while decade <= y_high * 1.0001:
        for step in (1, 2, 5):
            tick = decade * step
            if y_low <= tick <= y_high * 1.0001:
                yy = y(tick)
                out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" '
                           f'stroke="{"#ccc" if step == 1 else "#eee"}"/>')
                out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#444">{tick:g}</text>')
        decade *= 10
    for n in sizes:
        xx = x(n)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#ddd"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#444">{n:,}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">tickets (N)</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               'p95 server ms</text>')
    for target, text in ((LIST_TARGET_MS, "100 ms: queues, ticket, API list"),
                         (SEARCH_TARGET_MS, "300 ms: search, dashboard, metrics")):
        if y_low <= target <= y_high:
            yy = y(target)
            out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#c00" '
                       'stroke-dasharray="8 4" stroke-width="1.2"/>')
            out.append(f'<text x="{left + 6}" y="{yy - 5:.1f}" fill="#c00">target {html.escape(text)}</text>')
    api = {name for name, who, _d, _g in REQUESTS if who == "api"}
    for index, (name, points) in enumerate(series):
        color, dash = PALETTE[index % len(PALETTE)], ("6 3" if name in api else "")
        coordinates = " ".join(f"{x(n):.1f},{y(value):.1f}" for n, value in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<polyline points="{coordinates}" fill="none" stroke="{color}" stroke-width="2"{dashed}/>')
        for n, value in points:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(value):.1f}" r="3.5" fill="{color}">'
                       f'<title>{html.escape(name)} at {n:,}: p95 {value:.1f} ms</title></circle>')
        ly = top + 28 + index * 17
        lx = left + plot_w + 20
        if index == 0:
            out.append(f'<text x="{lx}" y="{top + 8}" fill="#555">request (p95 at {sizes[-1]:,})</text>')
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dashed}/>')
        last = points[-1][1]
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{html.escape(name)} ({last:.0f} ms)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- main ---------------------------------------------------------------------------------------------------


def collect_static() -> None:
    """The pages link their assets through the manifest: collect them once into the bench's var directory."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = {**bench_env(), "DATABASE_URL": f"{PG}/postgres"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=APP_ROOT, env=env,
                   check=True)


def run_sweep(args) -> dict:
    print(f"\n=== SLA sweep: 10,000 tickets due at once, {args.sweep_runs} runs on {SWEEP_DB}", flush=True)
    wait_quiet(args.wait_quiet)
    busy = machine_busy()
    redis_client().flushdb()
    try:
        runs = run_helper("_sweep", f"{PG}/{SWEEP_DB}", 10_000, args.sweep_runs)
    finally:
        redis_client().flushdb()
    return {"runs": runs, "busy_before": busy, "per_second": statistics.median(run["per_second"] for run in runs),
            "seconds": statistics.median(run["seconds"] for run in runs),
            "queries_per_ticket": statistics.median(run["queries_per_ticket"] for run in runs)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_prepare":
        return sub_prepare(int(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "_sweep":
        return sub_sweep(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated ticket counts (10000, 100k, 1m)")
    parser.add_argument("--runs", type=int, default=30, help="measured requests per request kind")
    parser.add_argument("--warmup", type=int, default=8,
                        help="warm-up requests per request kind, sent by as many clients at once as there are workers")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--create-seconds", type=float, default=20, help="creation phase length (0: skip)")
    parser.add_argument("--create-clients", type=int, default=16)
    parser.add_argument("--no-sweep", action="store_true", help="skip the SLA sweep")
    parser.add_argument("--sweep-runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and latency.svg")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each size and the sweep, wait up to this long for other work on the machine "
                             "to stop (below 20 %% busy)")
    parser.add_argument("--rev", default=None,
                        help="measure this commit (exported with git archive) instead of the working tree, which "
                             "others may be editing")
    args = parser.parse_args()
    if args.rev:
        global APP_ROOT
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        APP_ROOT = export_revision(args.rev)
        print(f"measuring {args.rev} exported to {APP_ROOT}", flush=True)
    sizes = sorted({parse_size(part) for part in args.sizes.split(",") if part.strip()})
    command = shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        redis_client().ping()
    except Exception as exc:
        sys.exit(f"Redis at {REDIS_URL} is not reachable ({exc}): the app publishes its events there.")
    host = machine()
    print(f"{host['arch']}, {host['cores']} cores, {host['memory_gib']:.0f} GiB · PostgreSQL {host['postgres']} · "
          f"Redis {host['redis']} · gunicorn {host['gunicorn']} ({args.workers} workers × {args.threads} thread)",
          flush=True)
    collect_static()
    results = []
    suite_started = time.perf_counter()
    for n in sizes:
        results.append(run_size(n, args))
    sweep = None if args.no_sweep else run_sweep(args)
    section = report(results, sweep, host, args, command)
    print("\n" + section)
    print(f"suite: {time.perf_counter() - suite_started:.0f} s")
    if not args.no_write:
        (BENCH / "latency.svg").write_text(chart(results))
        write_results(section)
        print("written: bench/RESULTS.md (section “Full suite”), bench/latency.svg")


if __name__ == "__main__":
    main()
