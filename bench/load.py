"""Mixed load against gunicorn: customers on the portal, agents at the desk, integrations on the API, at once.

    .venv/bin/python bench/load.py [--clients 30] [--seconds 60] [--warmup 5] [--tickets 10000] [--workers 4]
        [--rev REV] [--wait-quiet SECONDS] [--no-write]

Re-creates the database postgres://postgres@127.0.0.1:5432/tierdesk_load (this script's own), migrates it and
loads the standard workload of `bench/seed.py` with `--tickets` tickets (agents `l1-01` … `l3-04` and
`manager`, password `bench`), then makes API tokens for every agent; this runs in a helper process with the
code measured: the working tree, or with `--rev` a commit exported by `git archive` as `bench/run.py --rev`
does it (the working tree is shared with people editing it). Static files are collected into the
script's own folder, and gunicorn starts as `bench/run.py` starts it (`run.Server`: the Procfile's command,
`--workers 4 --threads 1`, DEBUG=0, SERVER_TIMING=1), with Redis database 4 as cache and Celery broker (no
worker runs: the event messages pile up there and are dropped afterwards).

The portal's per-address and per-e-mail limits (PORTAL_REPORT_RATE "5/10m", PORTAL_ACTION_RATE "20/m") would
refuse a load generator, which sends everything from 127.0.0.1, within seconds; like API_THROTTLE_USER in
`bench/run.py`, they are set out of reach for this server (LIMITS below), so the limiters still run — a cache
read and write per request — without refusing anyone.

Then `--clients` threads send requests, each as soon as its previous answer came (no think time), for
`--warmup` seconds (not counted) and `--seconds` measured. Each turn a client picks one of:

- a portal submission (customer, anonymous, one session per client): the report form (GET, for the CSRF
  token), the report (POST, 201 with a tracking link), sometimes the tracking page and a reply to it;
- desk work (an agent signed in through /accounts/login/): a queue page, a ticket page of their tier, and
  sometimes an internal note or "take" posted from that page's forms (a 409 — someone changed or took the
  ticket first — is a normal answer);
- an API call (an agent's token): the ticket list, filtered lists, a ticket, a new ticket, or an action (take,
  comment) on a ticket of the agent's tier.

Every request's kind, status and wall time (the client's round trip) are recorded. Printed, and written to
bench/RESULTS.md (section "Mixed load — 30 clients, 60 s", replaced) unless `--no-write`: per kind the count,
the answers by status, median and p95 (nearest rank) wall time. The script exits 1 on any 5xx answer,
connection error or answer a request of that kind should never get (a 403 from CSRF, a 429, a 404).
`tests/reliability/test_load.py` runs the same clients against a gunicorn on the test database.
"""
import argparse
import json
import os
import random
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:  # imported as bench.load (the test): run.py imports its siblings by name
    sys.path.insert(0, str(BENCH))

import environment  # noqa: E402,F401 — the project on the path and the bench settings, before Django starts
import run as suite  # noqa: E402 — bench/run.py: the server, sign-in, databases, percentiles

DATABASE = "tierdesk_load"
REDIS_URL = "redis://127.0.0.1:6379/4"
VAR_DIR = Path(tempfile.gettempdir()) / "tierdesk-bench-load"
SECTION = "## Mixed load — 30 clients, 60 s"
# Limits a single client address would meet at once, set out of reach for the load run (see above).
LIMITS = {"PORTAL_REPORT_RATE": "1000000/m", "PORTAL_ACTION_RATE": "1000000/m"}
DESK_AGENTS = ["l1-01", "l1-02", "l1-03", "l1-04", "l2-01", "l2-02"]
POOL = 400  # open tickets per tier the clients pick from

# What a client does in a turn, and how often (a turn of desk work or a portal submission is several requests).
SCENARIOS = {"portal": 15, "desk": 35, "api": 50}
API_CALLS = {"list": 25, "filter": 25, "ticket": 25, "create": 12, "action": 13}
# The answers each kind of request may get; anything else is an error of the run.
EXPECTED = {
    "portal-form": {200},
    "portal-report": {201},
    "portal-track": {200},
    "portal-reply": {302},
    "desk-queue": {200},
    "desk-ticket": {200},
    # Taken, changed (stale version) or moved to another tier by someone else first: the page says so.
    "desk-action": {302, 403, 409},
    "api-list": {200},
    "api-filter": {200},
    "api-ticket": {200},
    "api-create": {201},
    "api-action": {200, 201, 403, 409},
}
KINDS = list(EXPECTED)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TRACKING = re.compile(r'id="tracking-link" href="(/support/t/[^"/]+/)"')
TIMEOUT = 60
SERVER_TIME = re.compile(r"app;dur=([\d.]+)")  # the whole Django stack in the worker (SERVER_TIMING=1)


class LoadError(Exception):
    pass


# --- the data the clients use (after django.setup(), on the database the server uses) -----------------------


def facts(pool: int = POOL, seed: int = 42) -> dict:
    """Tokens, the desk agents, a pool of open tickets per tier, requesters and categories for the clients."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tickets.models import Category, Requester, Ticket
    from tickets.workflow import OPEN_STATUSES
    from tiers.models import TierMembership

    rng = random.Random(seed)
    agents = {}
    for username, tier in TierMembership.objects.filter(user__is_active=True).values_list("user__username",
                                                                                            "tier__code"):
        agents[username] = tier
    users = {user.username: user for user in get_user_model().objects.filter(username__in=agents)}
    tokens = {name: Token.objects.get_or_create(user=user)[0].key for name, user in sorted(users.items())}
    missing = set(DESK_AGENTS) - set(tokens)
    if missing:
        raise LoadError(f"agents missing (is this the bench/seed.py workload?): {sorted(missing)}")
    open_tickets = defaultdict(list)
    for pk, tier in Ticket.objects.filter(status__in=OPEN_STATUSES).values_list("pk", "tier__code"):
        open_tickets[tier].append(pk)
    pools = {tier: sorted(rng.sample(ids, min(pool, len(ids)))) for tier, ids in open_tickets.items()}
    requesters = list(Requester.objects.order_by("pk").values_list("email", "name")[:2000])
    return {
        "tokens": tokens,
        "tiers": {name: agents[name] for name in tokens},
        "desk_agents": DESK_AGENTS,
        "pools": pools,
        "tickets": Ticket.objects.count(),
        "open": sum(len(ids) for ids in open_tickets.values()),
        "requesters": requesters,
        "categories": list(Category.objects.filter(is_active=True).order_by("pk").values_list("slug", flat=True)),
    }


# --- the server ---------------------------------------------------------------------------------------------


def server_env(var_dir: Path = VAR_DIR, redis_url: str = REDIS_URL) -> dict:
    """What the load run's gunicorn gets over the bench's environment: its Redis, its folder, the limits."""
    return {"REDIS_URL": redis_url, "TIERDESK_VAR_DIR": str(var_dir), **LIMITS}


def collect_static(database_url: str, var_dir: Path = VAR_DIR) -> None:
    """The pages link their assets through the manifest: collect them into the run's own folder."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {**suite.bench_env(), "DATABASE_URL": database_url, "TIERDESK_VAR_DIR": str(var_dir)}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=suite.APP_ROOT,
                   env=env, check=True)


def start_server(database_url: str, workers: int, var_dir: Path = VAR_DIR, redis_url: str = REDIS_URL):
    """gunicorn as bench/run.py starts it, on `database_url`; the caller stops it (`server.stop()`)."""
    server = suite.Server(database_url, workers, 1, "load", env=server_env(var_dir, redis_url))
    server.log = var_dir / "gunicorn.log"
    server.start()
    return server


# --- the clients --------------------------------------------------------------------------------------------


class Client:
    """One simulated user after another: each turn a portal customer, a desk agent or an integration."""

    def __init__(self, number: int, base: str, data: dict, desk_sessions: dict, created: list, lock):
        import requests

        self.base, self.data, self.created, self.lock = base, data, created, lock
        self.rng = random.Random(f"load/{number}")
        self.records = []  # (kind, status or exception name, wall ms, measured, server ms or None)
        self.measuring = False
        self.portal = requests.Session()
        desk_agent = data["desk_agents"][number % len(data["desk_agents"])]
        self.desk = suite.clone(desk_sessions[desk_agent])
        self.desk_tier = data["tiers"][desk_agent]
        api_agents = sorted(data["tokens"])
        api_agent = api_agents[number % len(api_agents)]
        self.api = suite.with_token(data["tokens"][api_agent])
        self.api_tier = data["tiers"][api_agent]

    def send(self, kind: str, session, method: str, path: str, **kwargs):
        """One request, recorded; None when it failed to get an answer at all."""
        started = time.perf_counter()
        try:
            response = session.request(method, self.base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)
        except Exception as exc:  # a connection error is a result of the run
            self.records.append((kind, type(exc).__name__, (time.perf_counter() - started) * 1000, self.measuring,
                                 None))
            return None
        wall = (time.perf_counter() - started) * 1000
        timing = SERVER_TIME.search(response.headers.get("Server-Timing", ""))
        self.records.append((kind, response.status_code, wall, self.measuring,
                             float(timing.group(1)) if timing else None))
        return response

    def ticket_of(self, tier: str) -> int:
        pool = self.data["pools"].get(tier) or [pk for pks in self.data["pools"].values() for pk in pks]
        with self.lock:
            fresh = self.created[-50:] if tier == "L1" else []
        # New tickets (created during the run, in L1's queue) get a share of the attention, as in a real queue.
        if fresh and self.rng.random() < 0.3:
            return self.rng.choice(fresh)
        return self.rng.choice(pool)

    def turn(self) -> None:
        scenario = self.rng.choices(list(SCENARIOS), list(SCENARIOS.values()))[0]
        getattr(self, f"{scenario}_turn")()

    def problem(self) -> dict:
        """A problem as customers write it, from the seeder's vocabulary."""
        from bench.seed import ASKS, CONTEXTS, ITEMS, PROBLEMS, QUALIFIERS

        rng = self.rng
        slug = rng.choice([slug for slug in self.data["categories"] if slug in ITEMS] or [None])
        item = rng.choice(ITEMS[slug] if slug else ["printer"])
        subject = f"{item} {rng.choice(PROBLEMS)} {rng.choice(QUALIFIERS)}".strip()
        if rng.random() < 0.6 and self.data["requesters"]:  # most reports come from people who wrote before
            email, name = rng.choice(self.data["requesters"])
        else:
            email, name = f"load-{uuid.uuid4().hex[:12]}@example.com", "Load Customer"
        return {"subject": subject[0].upper() + subject[1:], "description": f"{subject}. {rng.choice(CONTEXTS)} "
                f"{rng.choice(ASKS)}", "email": email, "name": name or "Customer", "category": slug or ""}

    def portal_turn(self) -> None:
        form = self.send("portal-form", self.portal, "GET", "/support/")
        token = CSRF.search(form.text) if form is not None and form.status_code == 200 else None
        if token is None:
            return
        problem = self.problem()
        report = self.send("portal-report", self.portal, "POST", "/support/", headers={"Referer": self.base + "/"},
                           data={"csrfmiddlewaretoken": token.group(1), "website": "", **problem})
        link = TRACKING.search(report.text) if report is not None and report.status_code == 201 else None
        if link is None or self.rng.random() < 0.5:
            return
        page = self.send("portal-track", self.portal, "GET", link.group(1))
        token = CSRF.search(page.text) if page is not None and page.status_code == 200 else None
        if token is None or self.rng.random() < 0.6:
            return
        self.send("portal-reply", self.portal, "POST", link.group(1) + "reply/",
                  headers={"Referer": self.base + link.group(1)},
                  data={"csrfmiddlewaretoken": token.group(1), "body": "One more detail: it happens after lunch."})

    def desk_turn(self) -> None:
        queue = self.rng.choice(["open", "open", "mine", "unassigned", "breaching"])
        self.send("desk-queue", self.desk, "GET", f"/desk/?queue={queue}")
        pk = self.ticket_of(self.desk_tier)
        page = self.send("desk-ticket", self.desk, "GET", f"/desk/t/{pk}/")
        if page is None or page.status_code != 200 or self.rng.random() < 0.65:
            return
        token, version = CSRF.search(page.text), re.search(r'name="version" value="(\d+)"', page.text)
        if token is None or version is None:
            return
        action = "take" if 'data-action="take"' in page.text else "comment"
        data = {"csrfmiddlewaretoken": token.group(1), "version": version.group(1)}
        if action == "comment":
            data.update(body="Checked the logs; nothing unusual yet.", internal="true")
        self.send("desk-action", self.desk, "POST", f"/desk/t/{pk}/{action}/", data=data,
                  headers={"Referer": f"{self.base}/desk/t/{pk}/"})

    def api_turn(self) -> None:
        call = self.rng.choices(list(API_CALLS), list(API_CALLS.values()))[0]
        if call == "list":
            ordering = self.rng.choice(["", "?ordering=-updated_at", "?ordering=priority"])
            self.send("api-list", self.api, "GET", f"/api/v1/tickets/{ordering}")
        elif call == "filter":
            self.send("api-filter", self.api, "GET", "/api/v1/tickets/", params=self.filters())
        elif call == "ticket":
            pk = self.ticket_of(self.rng.choice(["L1", "L2", "L3"]))
            path = f"/api/v1/tickets/{pk}/" + ("events/" if self.rng.random() < 0.3 else "")
            self.send("api-ticket", self.api, "GET", path)
        elif call == "create":
            problem = self.problem()
            body = {"subject": problem["subject"], "description": problem["description"], "channel": "api",
                    "requester": {"email": problem["email"], "name": problem["name"]},
                    "priority": self.rng.choices(["P1", "P2", "P3", "P4"], [5, 15, 60, 20])[0],
                    "category": problem["category"] or None}
            response = self.send("api-create", self.api, "POST", "/api/v1/tickets/", json=body,
                                 headers={"Idempotency-Key": str(uuid.uuid4())})
            if response is not None and response.status_code == 201:
                with self.lock:
                    self.created.append(response.json()["id"])
        else:
            pk = self.ticket_of(self.api_tier)
            if self.rng.random() < 0.4:
                self.send("api-action", self.api, "POST", f"/api/v1/tickets/{pk}/take/", json={})
            else:
                self.send("api-action", self.api, "POST", f"/api/v1/tickets/{pk}/comments/",
                          json={"body": "Monitoring: the alert cleared at 10:42.", "internal": True})

    def filters(self) -> dict:
        rng = self.rng
        choices = [
            {"status": "new", "tier": rng.choice(["L1", "L2", "L3"])},
            {"priority": rng.choice(["P1", "P2"]), "status": ["new", "diagnosing"]},
            {"q": rng.choice(["printer", "vpn", "password", "outlook", "monitor"])},
            {"created_after": (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0).isoformat()},
            {"category": rng.choice(self.data["categories"] or [""]), "status": "resolved"},
            {"requester_email": rng.choice(self.data["requesters"])[0] if self.data["requesters"] else ""},
        ]
        return rng.choice(choices)



def sign_in_desk(base: str, agents: list[str]) -> dict:
    """One signed-in session per desk agent, through the login form (each client uses a copy)."""
    return {agent: suite.signed_in(base, agent) for agent in agents}


def run_load(base: str, data: dict, *, clients: int = 30, seconds: float = 60, warmup: float = 5) -> dict:
    """`clients` threads against `base` for `warmup` + `seconds`; the summary of the measured part."""
    desk_sessions = sign_in_desk(base, data["desk_agents"])
    created, lock = [], threading.Lock()
    workers = [Client(number, base, data, desk_sessions, created, lock) for number in range(clients)]
    start = threading.Barrier(clients + 1)
    moments = {}
    crashes = []

    def drive(client: Client) -> None:
        start.wait()
        try:
            while time.perf_counter() < moments["end"]:
                client.measuring = time.perf_counter() >= moments["measure"]
                client.turn()
        except Exception as exc:  # a bug in the generator must not pass for a quiet server
            crashes.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=drive, args=(client,), daemon=True) for client in workers]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    moments.update(measure=began + warmup, end=began + warmup + seconds)
    start.wait()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    records = [record for client in workers for record in client.records]
    summary = summarise(records, measured_seconds=ended - moments["measure"])
    summary.update(clients=clients, warmup=warmup, seconds=seconds, created_by_api=len(created), crashes=crashes)
    return summary


def summarise(records: list[tuple], measured_seconds: float) -> dict:
    """Per kind: requests, answers by status, median and p95 wall ms (measured part); failures of the whole run
    (warm-up included): 5xx answers, connection errors and answers the kind should never get."""
    kinds = {}
    failures = Counter()
    for kind in KINDS:
        mine = [r for r in records if r[0] == kind]
        measured = [r for r in mine if r[3]]
        walls = [r[2] for r in measured if isinstance(r[1], int)]
        servers = [r[4] for r in measured if r[4] is not None]
        kinds[kind] = {
            "requests": len(measured),
            "statuses": dict(sorted(Counter(str(r[1]) for r in measured).items())),
            "statuses_with_warmup": dict(sorted(Counter(str(r[1]) for r in mine).items())),
            "median": statistics.median(walls) if walls else None,
            "p95": suite.percentile(walls, 95) if walls else None,
            "server_median": statistics.median(servers) if servers else None,
            "server_p95": suite.percentile(servers, 95) if servers else None,
        }
        for record in mine:
            status = record[1]
            if not isinstance(status, int):
                failures[(kind, f"connection error {status}")] += 1
            elif status >= 500:
                failures[(kind, str(status))] += 1
            elif status not in EXPECTED[kind]:
                failures[(kind, f"unexpected {status}")] += 1
    measured = [r for r in records if r[3]]
    walls = [r[2] for r in measured if isinstance(r[1], int)]
    servers = [r[4] for r in measured if r[4] is not None]
    return {
        "kinds": kinds,
        "requests": len(measured),
        "per_second": len(measured) / measured_seconds if measured_seconds else 0.0,
        "median": statistics.median(walls) if walls else None,
        "mean": statistics.fmean(walls) if walls else None,
        "p95": suite.percentile(walls, 95) if walls else None,
        "server_median": statistics.median(servers) if servers else None,
        "server_p95": suite.percentile(servers, 95) if servers else None,
        "server_errors": sum(1 for r in records if isinstance(r[1], int) and r[1] >= 500),
        "connection_errors": sum(1 for r in records if not isinstance(r[1], int)),
        "failures": {f"{kind}: {what}": n for (kind, what), n in sorted(failures.items())},
        "warmup_requests": len(records) - len(measured),
    }


def problems(summary: dict) -> list[str]:
    """Why the run failed (nothing: it passed)."""
    found = [f"{what} × {n}" for what, n in summary["failures"].items()]
    found += [f"client crashed: {crash}" for crash in summary.get("crashes", [])]
    found += [f"{kind}: never sent" for kind, figures in summary["kinds"].items() if not figures["requests"]]
    return found


# --- the report ---------------------------------------------------------------------------------------------


def host() -> dict:
    import gunicorn
    import redis

    memory = next((int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    connection = suite.pg("postgres")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    connection.close()
    return {"cores": os.cpu_count(), "memory_gib": memory / 2**30, "python": sys.version.split()[0],
            "postgres": postgres, "gunicorn": gunicorn.__version__,
            "redis": redis.Redis.from_url(REDIS_URL).info("server").get("redis_version", "?")}


def ms(value) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def report(summary: dict, context: dict) -> str:
    machine = context["host"]
    lines = [
        SECTION, "",
        f"{context['date']} · x86_64, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB · Python "
        f"{machine['python']} · PostgreSQL {machine['postgres']} · Redis {machine['redis']} · gunicorn "
        f"{machine['gunicorn']}, {context['workers']} sync workers × 1 thread, `DEBUG=0` · "
        f"{suite.version_text(context['code'])}",
        "",
        "```sh", context["command"], "```", "",
        f"Database `{DATABASE}`: the standard workload of `bench/seed.py` with {context['seeded']:,} tickets "
        f"({context['open']:,} open). {summary['clients']} clients, each sending its next request as soon as its "
        f"previous answer came (no think time), for {summary['warmup']:g} s of warm-up (not counted, "
        f"{summary['warmup_requests']:,} requests) and {summary['seconds']:g} s measured. Portal limits "
        f"raised out of reach for this server (`{'`, `'.join(f'{k}={v}' for k, v in LIMITS.items())}`, "
        "`API_THROTTLE_USER=1000000/min`): every request comes from 127.0.0.1. Load average (1 / 5 min) "
        f"{context['load_before'][0]:.2f} / {context['load_before'][1]:.2f} before the run, "
        f"{context['load_after'][0]:.2f} / {context['load_after'][1]:.2f} at its end; the machine was "
        f"{context['busy_before']:.0%} busy with other work just before.{cpu_text(context.get('cpu'))} *Wall* is "
        f"the client's round trip: with {summary['clients']} clients and {context['workers']} workers it includes "
        "the wait for a free worker; "
        "*server* is `Server-Timing: app;dur`, the whole Django stack in the worker. p95 is the nearest rank.",
        "",
        "| request | what | requests | answers | median wall ms | p95 wall ms | median server ms | p95 server ms |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        figures = summary["kinds"][kind]
        answers = ", ".join(f"{status} × {n:,}" for status, n in figures["statuses"].items())
        lines.append(f"| {kind} | {DESCRIPTIONS[kind]} | {figures['requests']:,} | {answers} | "
                     f"{ms(figures['median'])} | {ms(figures['p95'])} | {ms(figures['server_median'])} | "
                     f"{ms(figures['server_p95'])} |")
    lines.append(f"| **all** | | **{summary['requests']:,}** ({summary['per_second']:.0f}/s) | | "
                 f"**{ms(summary['median'])}** | **{ms(summary['p95'])}** | {ms(summary['server_median'])} | "
                 f"{ms(summary['server_p95'])} |")
    failures = problems(summary)
    unexpected = ", ".join(summary["failures"]) or "none"
    if summary["per_second"] and summary["server_median"] is not None:
        lines += ["", f"With no think time the clients keep the server saturated: {summary['clients']} clients ÷ "
                  f"{summary['per_second']:.1f} requests/s = {summary['clients'] / summary['per_second'] * 1000:.0f} "
                  f"ms a request on average (Little's law; measured mean wall {ms(summary['mean'])} ms), of which "
                  f"the median request spends {ms(summary['server_median'])} ms in Django: the rest is waiting, "
                  f"for one of the {context['workers']} workers and for the CPU, which the load generator "
                  f"shares on the same {machine['cores']} cores."]
    lines += ["", f"5xx answers: **{summary['server_errors']}**; connection errors: "
              f"**{summary['connection_errors']}** (warm-up included); answers a request should never get: "
              f"{unexpected}. " + ("**Passed.**" if not failures else f"**Failed:** {'; '.join(failures)}."), ""]
    return "\n".join(lines)


def cpu_text(cpu: dict | None) -> str:
    if not cpu:
        return ""
    return (f" During the run the machine was {cpu['busy']:.0%} busy: gunicorn {cpu['gunicorn']:.0%}, its "
            f"PostgreSQL backends {cpu['postgres']:.0%}, the load generator {cpu['client']:.0%}, other work "
            f"{cpu['others']:.0%}.")


DESCRIPTIONS = {
    "portal-form": "`GET /support/` (the report form, for its CSRF token)",
    "portal-report": "`POST /support/`: a problem report (201, tracking link)",
    "portal-track": "the tracking page just received",
    "portal-reply": "a reply from the tracking page (302)",
    "desk-queue": "desk queue (open, mine, unassigned, breaching soon)",
    "desk-ticket": "ticket page of the agent's tier",
    "desk-action": "internal note or take from the ticket page (302; 409 when someone was first)",
    "api-list": "`GET /api/v1/tickets/` (newest, recently changed, by priority)",
    "api-filter": "filtered lists: status and tier, priority, `q`, `created_after`, category, requester",
    "api-ticket": "`GET /api/v1/tickets/<id>/` or its `events/`",
    "api-create": "`POST /api/v1/tickets/` with an `Idempotency-Key`",
    "api-action": "`take` or an internal comment on a ticket of the token's tier (409 when someone was first)",
}


def print_summary(summary: dict) -> None:
    for kind in KINDS:
        figures = summary["kinds"][kind]
        print(f"  {kind:<14} {figures['requests']:>6,}  wall median {ms(figures['median']):>6} ms, p95 "
              f"{ms(figures['p95']):>6} ms · server p95 {ms(figures['server_p95']):>6} ms  {figures['statuses']}",
              flush=True)
    print(f"  {'all':<14} {summary['requests']:>6,}  wall median {ms(summary['median']):>6} ms, p95 "
          f"{ms(summary['p95']):>6} ms · server p95 {ms(summary['server_p95']):>6} ms  "
          f"({summary['per_second']:.0f} requests/s)", flush=True)


# --- main ---------------------------------------------------------------------------------------------------


@contextmanager
def cpu_watch(server):
    """Where the machine's CPU went while the block ran: gunicorn, its PostgreSQL backends, this process (the
    load generator) and everything else, as shares of the machine. Read every half second with bench/run.py's
    snapshots, so that a process ending meanwhile keeps what it had used."""
    shares = {}
    before, latest, done = suite.cpu_snapshot(server), {}, threading.Event()

    def sample() -> None:
        while True:
            suite.merge(latest, suite.cpu_snapshot(server))
            if done.wait(0.5):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield shares
    finally:
        done.set()
        sampler.join()
        suite.merge(latest, suite.cpu_snapshot(server))
        used = suite.cpu_used(before, latest)
        total = used["total"] or 1.0
        shares.update({name: used[name] / total for name in ("gunicorn", "postgres", "client", "others")},
                      busy=used["busy_share"])


def prepare(tickets: int) -> dict:
    """Re-create tierdesk_load, then migrate and seed it in a helper process running the code measured (this
    checkout, or the commit of --rev); the facts for the clients."""
    url = f"{suite.PG}/{DATABASE}"
    print(f"re-creating {DATABASE} and loading {tickets:,} tickets (bench/seed.py)", flush=True)
    suite.create_database(DATABASE, drop=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        env = {**suite.bench_env(), "DATABASE_URL": url, "REDIS_URL": REDIS_URL}
        helper = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_prepare", str(tickets), str(out)],
                                cwd=suite.APP_ROOT, env=env)
        if helper.returncode:
            raise LoadError(f"preparing {DATABASE} failed (exit {helper.returncode})")
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def sub_prepare(tickets: int, out: str) -> None:
    """The helper process: migrate, seed, facts to `out` as JSON (Django set up for tierdesk_load)."""
    import django

    django.setup()
    from django.core.management import call_command

    from bench.seed import seed

    call_command("migrate", verbosity=0)
    seed(tickets)
    Path(out).write_text(json.dumps(facts()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_prepare":
        return sub_prepare(int(sys.argv[2]), sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60, help="measured time")
    parser.add_argument("--warmup", type=float, default=5, help="time before the measurement (not counted)")
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets seeded into tierdesk_load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="wait up to this long for other work on the machine to stop (below 20 %% busy)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md")
    parser.add_argument("--rev", default=None,
                        help="measure this commit (exported with git archive, as bench/run.py --rev does) instead "
                             "of the working tree, which others may be editing")
    args = parser.parse_args()
    command = shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])

    def stop(signum, _frame):  # as Ctrl-C: gunicorn is stopped on the way out
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    import redis

    broker = redis.Redis.from_url(REDIS_URL, socket_timeout=5)  # not run.py's client: that one is database 14
    try:
        broker.ping()
    except Exception as exc:
        sys.exit(f"Redis at {REDIS_URL} is not reachable ({exc}): the server publishes its events there.")
    if args.rev:
        suite.VAR_DIR.mkdir(parents=True, exist_ok=True)
        suite.APP_ROOT = suite.export_revision(args.rev)  # run.Server, bench_env and code_version read it
        print(f"measuring {args.rev} exported to {suite.APP_ROOT}", flush=True)
    data = prepare(args.tickets)
    collect_static(f"{suite.PG}/{DATABASE}")
    broker.flushdb()  # this run's cache, limiter counters and broker only (database 4)
    context = {"host": host(), "workers": args.workers, "command": command, "seeded": data["tickets"],
               "open": data["open"], "code": suite.code_version(),
               "date": datetime.now(UTC).strftime("%Y-%m-%d")}
    suite.wait_quiet(args.wait_quiet)
    context["load_before"], context["busy_before"] = os.getloadavg(), suite.machine_busy()
    server = start_server(f"{suite.PG}/{DATABASE}", args.workers)
    try:
        print(f"gunicorn up at {server.base}, workers {server.worker_pids()}; {args.clients} clients for "
              f"{args.warmup:g} + {args.seconds:g} s", flush=True)
        with cpu_watch(server) as cpu:
            summary = run_load(server.base, data, clients=args.clients, seconds=args.seconds, warmup=args.warmup)
        context["load_after"], context["cpu"] = os.getloadavg(), cpu
    finally:
        server.stop()
        broker.flushdb()
    print_summary(summary)
    section = report(summary, context)
    print("\n" + section)
    if not args.no_write:
        suite.write_results(section, SECTION)
        print(f"written: bench/RESULTS.md (section “{SECTION[3:]}”)")
    failures = problems(summary)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
