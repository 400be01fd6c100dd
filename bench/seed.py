"""Benchmark data: the standard workload (WORKLOAD.md) loaded straight into PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierdesk_seed_1m \
        .venv/bin/python bench/seed.py --tickets 1000000 [--seed 42] [--now ISO-TIME] [--recreate] [--check]

`--recreate` drops and re-creates the database named in DATABASE_URL and
migrates it (tiers, SLA policies and calendars come from the migrations).
The seed then creates 6 categories, 20 agents (10 L1, 6 L2, 4 L3) and one
manager, all with password "bench", 5,000 requesters, and N tickets created
uniformly over the last 365 days (3 years from 1,000,000 tickets on), the
last ones an hour before now.

Every ticket's history is played through the workflow table
(`tickets.workflow`) the way `tickets.services` writes it: one event per
change, `version`, `first_response_at`, `resolved_at`, the assignee, the
diagnosis, `search_text` and the tracking link, and every SLA field from
`tickets.deadlines.clock_changes` with the seeded policies. Events are marked
dispatched. No SLA sweep ran while the histories were made: there are no
`sla_warning`, `sla_breached` or timer escalations, and open tickets whose
deadlines have passed are due for the next sweep.

Rows go in with COPY, in chunks of 5,000 tickets made by two processes; each
chunk is deterministic (its own random generator), and ids are given in
order, so the same `--seed` and `--now` give the same tickets, events and
comments. Secondary indexes are dropped during the load and rebuilt after
it, foreign keys are not re-checked row by row (`--check` verifies them),
then sequences are reset and the tables vacuumed and analysed.

`--check` replays a sample of tickets against the workflow table and the
services' rules and compares the totals with the WORKLOAD shares; it exits
non-zero on any failure. Other bench scripts call `seed(tickets)` and
`check()` after `django.setup()`, on an empty migrated database.
"""
import argparse
import io
import math
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
import traceback
from array import array
from bisect import bisect_left
from datetime import datetime, timedelta
from multiprocessing.connection import wait as wait_for_any
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("DEBUG", "0")

# --- the workload ---------------------------------------------------------------

CATEGORIES = [  # name, slug, weight
    ("Hardware", "hardware", 20),
    ("Software", "software", 30),
    ("Network", "network", 15),
    ("Access", "access", 15),
    ("E-mail", "e-mail", 15),
    ("Facilities", "facilities", 5),
]
PRIORITIES = {"P1": 5, "P2": 15, "P3": 60, "P4": 20}
STATUSES = {"new": 5, "diagnosing": 5, "resolving": 3, "waiting": 2, "resolved": 20, "closed": 65}
HIGHEST_TIER = {1: 65, 2: 25, 3: 10}  # the highest level a ticket reaches
DE_ESCALATED = 0.03  # of all tickets
DEFECT = 1 / 3  # of de-escalations
REOPENED = 0.05  # of resolved and closed tickets, once
RATED = 0.40  # of closed tickets
RATINGS = {5: 45, 4: 30, 3: 12, 2: 8, 1: 5}
DAYS_TO_RESOLVE = {1: 3, 2: 6, 3: 10}  # exponential means, by highest tier
CHANNELS = {"web": 55, "email": 25, "phone": 15, "api": 5}
AGENTS = {"L1": 10, "L2": 6, "L3": 4}
REQUESTERS = 5_000
ZIPF_EXPONENT = 0.8
MAX_COMMENTS = 5  # 1 + randint(0, 4)
INTERNAL_NOTES = 0.2  # of agent comments
PASSWORD = "bench"

# How the steps of a path are drawn (not part of WORKLOAD.md, chosen to look like a desk).
ASSIGNED_BY_MANAGER = 0.05  # a manager assigns the ticket before the agent takes it
ESCALATED_UNTAKEN = 0.15  # escalated from the queue without being taken
DIAGNOSED_BEFORE_ESCALATION = 0.9
QUICK_FIX = {1: 0.4, 2: 0.1, 3: 0.1}  # diagnosing → resolved in one step, by tier
WAIT_CYCLE = 0.12
CLOSED_BY = {"rated": RATED, "confirmed": 0.30, "auto": 0.30}  # customer with rating, without, auto-close
CONFIRM_DAYS = 0.7  # mean days from resolved to the customer's confirmation
REOPEN_DAYS = 0.8  # mean days from resolved to "still not fixed"
TAIL_DAYS = 0.5  # mean days of comments after the last change of an open or resolved ticket
SWEEP_LAG_SECONDS = 30  # auto-close runs with the SLA sweep
MIN_GAP_SECONDS = 0.01  # between two changes of a ticket; a reply's automatic resume comes 1 ms after it

CHUNK = 5_000
WORKERS = 2
PROGRESS_SECONDS = 10
LAST_TICKET_BEFORE_NOW = timedelta(hours=1)
END_BEFORE_NOW = timedelta(minutes=5)
DAY = 86_400.0
NULL = "\\N"
NEWLINE = "\\n"  # a line break inside a COPY text field

# --- vocabulary (no tab, newline or backslash: it goes into COPY text as is) -------

ITEMS = {
    "hardware": ["printer", "laptop", "monitor", "keyboard", "docking station", "scanner", "headset", "laptop battery"],
    "software": ["outlook", "excel", "licence", "teams", "browser", "cad suite", "erp client", "pdf reader"],
    "network": ["vpn", "wifi", "network drive", "proxy", "file server", "remote desktop", "dns"],
    "access": ["password", "account", "mfa token", "shared folder", "admin rights", "sso login", "certificate"],
    "e-mail": ["outlook", "mailbox", "calendar", "certificate", "spam filter", "shared mailbox", "distribution list"],
    "facilities": ["desk phone", "printer", "projector", "badge reader", "room display", "wifi"],
}
PROBLEMS = [
    "does not start", "keeps crashing", "is very slow", "shows an error", "stopped working",
    "disconnects every few minutes", "asks for the password again", "cannot be found", "needs a replacement",
    "shows a certificate warning", "fails after the update", "crash on startup", "licence expired",
    "is locked", "not working",
]
QUALIFIERS = ["", "again", "since Monday", "on floor 3", "after reboot", "for everyone"]
CONTEXTS = [
    "It started this morning after I came back from a meeting.",
    "Colleagues on the same floor see the same problem.",
    "I already restarted the computer twice.",
    "It worked fine until yesterday evening.",
    "The error appears every time I try.",
    "I need it for a customer call this afternoon.",
]
ASKS = ["Please help.", "Can someone have a look?", "What should I do?", "Thanks in advance.", "This is urgent for me."]
AGENT_REPLIES = [
    "Thanks, we are looking at the {item} now.",
    "Could you send a screenshot of the {item} error?",
    "We applied a fix to the {item}; please try again.",
    "Please restart the {item} and tell us whether the problem persists.",
    "We can reproduce the {item} problem and are working on it.",
]
INTERNAL_NOTE_BODIES = [
    "Checked the logs: the {item} fails at the same step every time.",
    "Known issue with the last {item} update, see the change log.",
    "Asked the vendor about the {item}; waiting for their answer.",
    "Same {item} problem as last week on another floor.",
]
CUSTOMER_REPLIES = [
    "The {item} still shows the same error.",
    "I restarted it and the {item} works for now.",
    "Here is the screenshot you asked for.",
    "It happens every morning when I connect.",
    "Thank you, that seems to fix the {item}.",
]
STEPS_BEFORE = [
    "The customer restarted the device and signed in again.",
    "An update was installed overnight.",
    "The customer moved to another desk yesterday.",
    "The password was changed last week.",
    "Nothing changed according to the customer.",
]
FINDINGS = [
    "Reproduced the fault; the logs show the same error at every attempt.",
    "The driver is out of date.",
    "The account is locked after too many attempts.",
    "The configuration profile is missing.",
    "The cached credentials are stale.",
    "Hardware test failed.",
]
RESOLUTIONS = [
    "Reinstalled the {item} driver and tested with the customer.",
    "Reset the {item} configuration to the standard profile.",
    "Replaced the {item}.",
    "Unlocked the account and renewed the credentials.",
    "Applied the vendor patch for the {item}.",
    "Cleared the cache and re-created the {item} profile.",
]
WAIT_REASONS = ["Asked the customer for a screenshot.", "Waiting for the customer to test.",
                "The customer is out of office until tomorrow."]
ESCALATE_REASONS = ["Needs server access.", "Beyond first-line settings.", "Fault in the infrastructure.",
                    "Needs a change to the configuration of the service.", "Vendor escalation required."]
DE_ESCALATE_REASONS = ["A first-line setting fixes this.", "Not an infrastructure fault.",
                       "Back to the previous tier for the user-side fix."]
REOPEN_REASONS = ["Still not fixed.", "The problem came back the next day.", "Only worked once."]
CSAT_COMMENTS = ["Quick and friendly, thanks.", "Took a while but it works now.", "Great help.",
                 "I had to explain the problem twice."]
FIRST_NAMES = ["Anna", "Ben", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Irina", "Jonas",
               "Kemal", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tara"]
LAST_NAMES = ["Petrova", "Okafor", "Martin", "Volkov", "Schultz", "Haddad", "Lee", "Moreau", "Novak", "Berg",
              "Yilmaz", "Fischer", "Garcia", "Rahman", "Lind", "Iyer", "Dubois", "Costa", "Nilsson", "Kaur",
              "Romano", "Weber", "Sato", "Kowalski", "Brown"]


class SeedError(Exception):
    """The generator produced something the workflow would refuse: a bug here, never bad luck."""


# --- the database ---------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop and re-create the database named in `url` (through psql on the server's `postgres` database)."""
    import dj_database_url

    name = dj_database_url.parse(url)["NAME"]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True)


LOADED_TABLES = ("tickets_ticket", "tickets_event", "tickets_comment")
TICKET_COLUMNS = (
    "id, subject, description, status, priority, channel, version, created_at, updated_at, first_response_at, "
    "resolved_at, closed_at, response_due_at, escalation_due_at, resolution_due_at, affected_item, steps_before, "
    "findings, resolution_summary, waiting_from, reopen_count, csat_rating, csat_comment, assignee_id, category_id, "
    "created_by_id, repeat_of_id, requester_id, tier_id, escalation_warn_at, resolution_warn_at, response_warn_at, "
    "sla_flags, sla_next_check_at, sla_paused, sla_paused_at, search_text, tracking_salt, tracking_token_hash, "
    "resolve_business_us"
)
EVENT_COLUMNS = (
    "id, ticket_id, kind, at, actor_id, actor_requester_id, actor_role, from_status, to_status, from_tier_id, "
    "to_tier_id, reason, data, dispatched_at"
)
COMMENT_COLUMNS = "id, ticket_id, author_id, author_requester_id, author_role, body, internal, created_at"


def secondary_indexes(cursor) -> list[tuple[str, str, str]]:
    """(name, table, definition) of the loaded tables' indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.indexname, i.tablename, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        ORDER BY i.tablename, i.indexname
        """,
        [list(LOADED_TABLES)],
    )
    return cursor.fetchall()


def build_indexes(definitions: list[str], workers: int = WORKERS) -> None:
    """Run the CREATE INDEX statements in order, on `workers` connections at once."""
    from django.db import DatabaseError, connection

    pending = list(definitions)
    lock = threading.Lock()
    failures = []

    def build():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '1GB'")
                cursor.execute("SET max_parallel_maintenance_workers = 0")
                while True:
                    with lock:
                        if not pending:
                            return
                        sql = pending.pop(0)
                    cursor.execute(sql)
        except DatabaseError as exc:  # raised by the caller, once the other builds are done
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def reset_sequences(cursor) -> None:
    for table in LOADED_TABLES:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table}",
            [table],
        )


# --- small helpers --------------------------------------------------------------


def _cumulative(weights) -> list[float]:
    total, sums = 0.0, []
    for weight in weights:
        total += weight
        sums.append(total)
    return sums


class Weighted:
    """The keys of a {key: weight} table, drawn with their weights."""

    def __init__(self, weights: dict):
        self.keys = list(weights)
        self.sums = _cumulative(weights.values())

    def pick(self, rng):
        return self.keys[bisect_left(self.sums, rng.random() * self.sums[-1])]


DRAW = SimpleNamespace(
    priority=Weighted(PRIORITIES),
    channel=Weighted(CHANNELS),
    status=Weighted(STATUSES),
    highest_tier=Weighted(HIGHEST_TIER),
    closed_by=Weighted(CLOSED_BY),
    rating=Weighted(RATINGS),
)


def _timestamp(moment) -> str:
    return moment.isoformat() if moment is not None else NULL


def _interval(duration: timedelta) -> str:
    return f"{duration.days} days {duration.seconds} seconds {duration.microseconds} microseconds"


def _value(value) -> str:
    return NULL if value is None else str(value)


def _subjects(category_slug: str) -> list[str]:
    """Every subject of 3–6 words this category's vocabulary makes."""
    subjects = []
    for item in ITEMS[category_slug]:
        for problem in PROBLEMS:
            for qualifier in QUALIFIERS:
                words = f"{item} {problem} {qualifier}".split()
                if 3 <= len(words) <= 6:
                    text = " ".join(words)
                    subjects.append(text[0].upper() + text[1:])
    return subjects


# --- the population -------------------------------------------------------------


def _create_people(password_hash: str, since: datetime):
    """Categories, staff and requesters through the ORM; returns their ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from tickets.models import Category, Requester
    from tiers.models import Tier, TierMembership
    from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP

    User = get_user_model()
    categories = [
        Category.objects.create(name=name, slug=slug, description=f"{name} problems").pk
        for name, slug, _weight in CATEGORIES
    ]
    tiers = {tier.code: tier for tier in Tier.objects.order_by("level")}
    agents_group, managers_group = Group.objects.get(name=AGENTS_GROUP), Group.objects.get(name=MANAGERS_GROUP)
    members, usernames = {}, {}
    for code, count in AGENTS.items():
        members[tiers[code].pk] = []
        for number in range(1, count + 1):
            username = f"{code.lower()}-{number:02d}"
            user = User.objects.create(
                username=username,
                password=password_hash,
                first_name=FIRST_NAMES[len(usernames) % len(FIRST_NAMES)],
                last_name=LAST_NAMES[-1 - len(usernames) % len(LAST_NAMES)],
                email=f"{username}@tierdesk.example",
            )
            user.groups.add(agents_group)
            TierMembership.objects.create(user=user, tier=tiers[code])
            members[tiers[code].pk].append(user.pk)
            usernames[user.pk] = username
    manager = User.objects.create(
        username="manager", password=password_hash, first_name="Max", last_name="Manager",
        email="manager@tierdesk.example", is_staff=True,
    )
    manager.groups.add(managers_group)
    usernames[manager.pk] = "manager"
    requesters = Requester.objects.bulk_create(_requesters(since), batch_size=1000)
    return SimpleNamespace(
        categories=categories,
        tier_ids=[tier.pk for tier in tiers.values()],
        members=members,
        manager=manager.pk,
        usernames=usernames,
        requesters=[requester.pk for requester in requesters],
    )


def _requesters(since: datetime):
    from tickets.models import Requester

    for rank in range(1, REQUESTERS + 1):
        first = FIRST_NAMES[rank % len(FIRST_NAMES)]
        last = LAST_NAMES[(rank // len(FIRST_NAMES)) % len(LAST_NAMES)]
        yield Requester(
            email=f"{first}.{last}.{rank}@example.com".lower(),
            name=f"{first} {last}",
            language="ru" if rank % 10 == 0 else "en",
            created_at=since,
        )


class Plan:
    """What every ticket gets before the chunks are made: creation time, requester, category, repeat link.

    These need the whole population (repeat contacts cross chunk borders), so
    they are drawn in one pass over all tickets, in creation order.
    """

    def __init__(self, tickets: int, seed: int, start: datetime, last: datetime, repeat_days: int):
        rng = random.Random(seed)
        self.tickets = tickets
        self.epoch = start
        span = int((last - start).total_seconds() * 1_000_000)
        created = sorted(rng.randrange(span) for _ in range(tickets))
        for index in range(1, tickets):  # strictly increasing: ids follow creation time
            if created[index] <= created[index - 1]:
                created[index] = created[index - 1] + 1
        self.created_us = array("q", created)
        ranks = _cumulative(1 / rank**ZIPF_EXPONENT for rank in range(1, REQUESTERS + 1))
        self.requester = array("H", rng.choices(range(REQUESTERS), cum_weights=ranks, k=tickets))
        weights = _cumulative(weight for _name, _slug, weight in CATEGORIES)
        self.category = array("B", rng.choices(range(len(CATEGORIES)), cum_weights=weights, k=tickets))
        self.comments = array("B", (1 + rng.randint(0, MAX_COMMENTS - 1) for _ in range(tickets)))
        self.repeat_of = array("q", bytes(8 * tickets))
        window = repeat_days * 86_400 * 1_000_000
        latest = {}
        for index in range(tickets):
            key = (self.requester[index], self.category[index])
            earlier = latest.get(key)
            if earlier is not None and self.created_us[earlier] >= self.created_us[index] - window:
                self.repeat_of[index] = earlier + 1
            latest[key] = index
        self.chunks = math.ceil(tickets / CHUNK)
        self.comment_base = array("q", [1])
        for chunk in range(self.chunks):
            counted = sum(self.comments[chunk * CHUNK:(chunk + 1) * CHUNK])
            self.comment_base.append(self.comment_base[-1] + counted)

    def created_at(self, index: int) -> datetime:
        return self.epoch + timedelta(microseconds=self.created_us[index])


# --- one ticket's life ------------------------------------------------------------


class TicketState:
    """The ticket fields the services and `tickets.deadlines` read and write as the ticket moves."""

    __slots__ = (
        "affected_item",
        "assignee_id",
        "closed_at",
        "created_at",
        "csat_comment",
        "csat_rating",
        "escalation_due_at",
        "escalation_warn_at",
        "findings",
        "first_response_at",
        "priority",
        "reopen_count",
        "resolution_due_at",
        "resolution_summary",
        "resolution_warn_at",
        "resolve_business_us",
        "resolved_at",
        "response_due_at",
        "response_warn_at",
        "sla_flags",
        "sla_next_check_at",
        "sla_paused",
        "sla_paused_at",
        "status",
        "steps_before",
        "tier_id",
        "updated_at",
        "version",
        "waiting_from",
    )


def opened_ticket(created: datetime, tier_id: int, priority: str) -> TicketState:
    """A ticket as `services.ticket_create` leaves it, before anyone acts on it."""
    from tickets.deadlines import CLOCK_FIELDS, clock_changes

    state = TicketState()
    state.status, state.tier_id, state.priority = "new", tier_id, priority
    state.created_at = state.updated_at = created
    state.first_response_at = state.resolved_at = state.closed_at = state.assignee_id = state.csat_rating = None
    state.resolve_business_us = None
    state.waiting_from = state.affected_item = state.steps_before = state.findings = ""
    state.resolution_summary = state.csat_comment = ""
    state.version, state.reopen_count = 1, 0
    state.sla_flags, state.sla_paused, state.sla_paused_at = 0, timedelta(0), None
    for name in CLOCK_FIELDS:
        setattr(state, name, None)
    for name, value in clock_changes(state, from_status="", tier_changed=True, now=created).items():
        setattr(state, name, value)
    return state


def _plan_steps(rng, *, highest: int, de_escalated: bool, status: str, reopened: bool, closing: str | None):
    """The changes a ticket goes through, in order, as three phases: until resolved, the reopen, the close."""
    levels = list(range(1, highest + 1)) + ([highest - 1] if de_escalated else [])
    steps, diagnosed = [], False
    for position, level in enumerate(levels[:-1]):
        leaving = "de_escalate" if levels[position + 1] < level else "escalate"
        if leaving == "escalate" and rng.random() < ESCALATED_UNTAKEN:
            steps.append(leaving)
            continue
        steps += _taking(rng)
        if rng.random() < DIAGNOSED_BEFORE_ESCALATION:
            steps.append("diagnose")
            diagnosed = True
        if diagnosed and rng.random() < 0.15:
            steps.append("start")
        if rng.random() < WAIT_CYCLE:
            steps += ["wait", "resume"]
        steps.append(leaving)
    level = levels[-1]
    reopen, close = [], []
    if status == "new":
        return steps, reopen, close
    steps += _taking(rng)
    if status == "diagnosing":
        if rng.random() < 0.5:
            steps.append("diagnose")
    elif status == "resolving":
        if not diagnosed or rng.random() < 0.3:
            steps.append("diagnose")
        steps.append("start")
        if rng.random() < WAIT_CYCLE:
            steps += ["wait", "resume"]
    elif status == "waiting":
        if not diagnosed and rng.random() < 0.7:
            steps.append("diagnose")
            diagnosed = True
        if diagnosed and rng.random() < 0.3:
            steps.append("start")
        steps.append("wait")
    else:
        if rng.random() < QUICK_FIX[level]:
            if rng.random() < WAIT_CYCLE:
                steps += ["wait", "resume"]
            steps.append("resolve")
        else:
            if not diagnosed or rng.random() < 0.4:
                steps.append("diagnose")
            if rng.random() < WAIT_CYCLE:
                steps += ["wait", "resume"]
            steps += ["start", "resolve"]
        if reopened:
            reopen = ["reopen"] + (["diagnose"] if rng.random() < 0.3 else []) + ["start", "resolve"]
        if status == "closed":
            close = ["close_" + closing]
    return steps, reopen, close


def _taking(rng) -> list[str]:
    return ["assign", "take"] if rng.random() < ASSIGNED_BY_MANAGER else ["take"]


class Chunk:
    """Tickets [first, last) with their events and comments, as COPY text.

    Each ticket is played step by step: `_apply` does what
    `tickets.services._apply` does (workflow table, first response, version,
    clocks) and appends the event.
    """

    def __init__(self, world, number: int):
        self.world = world
        self.plan = world.plan
        self.number = number
        self.rng = random.Random(f"{world.seed}/{number}")
        self.first = number * CHUNK
        self.last = min(self.first + CHUNK, self.plan.tickets)
        self.tickets = []
        self.events = []  # without the id, given once the chunk's first event id is known
        self.comments = []
        self.next_comment = self.plan.comment_base[number]

    def make(self) -> "Chunk":
        for index in range(self.first, self.last):
            self._ticket(index)
        if self.next_comment != self.plan.comment_base[self.number + 1]:
            raise SeedError(f"chunk {self.number}: comment ids out of step")
        return self

    def copy_into(self, cursor, first_event_id: int) -> None:
        events = "".join(f"{event_id}\t{line}" for event_id, line in enumerate(self.events, first_event_id))
        for table, columns, text in (
            ("tickets_ticket", TICKET_COLUMNS, "".join(self.tickets)),
            ("tickets_event", EVENT_COLUMNS, events),
            ("tickets_comment", COMMENT_COLUMNS, "".join(self.comments)),
        ):
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text), size=1 << 20)

    # --- one ticket ---------------------------------------------------------

    def _ticket(self, index: int) -> None:
        rng, world, plan = self.rng, self.world, self.plan
        self.id = index + 1
        category = plan.category[index]
        slug = CATEGORIES[category][1]
        self.requester = world.requesters[plan.requester[index]]
        self.customer = ("customer", None, self.requester)
        self.item = rng.choice(ITEMS[slug])
        subject = rng.choice(world.subjects[slug])
        description = f"{subject}. {rng.choice(CONTEXTS)} {rng.choice(ASKS)}"
        self.search_text = [subject, description]
        priority = DRAW.priority.pick(rng)
        channel = DRAW.channel.pick(rng)
        status = DRAW.status.pick(rng)
        highest = DRAW.highest_tier.pick(rng)
        de_escalated = highest > 1 and rng.random() < DE_ESCALATED / (1 - HIGHEST_TIER[1] / 100)
        reopened = status in ("resolved", "closed") and rng.random() < REOPENED
        closing = DRAW.closed_by.pick(rng) if status == "closed" else None
        phases = _plan_steps(
            rng, highest=highest, de_escalated=de_escalated, status=status, reopened=reopened, closing=closing
        )
        created = plan.created_at(index)
        timeline = self._timeline(rng, phases, highest, status, plan.comments[index], created)
        state = self.state = opened_ticket(created, world.tier_ids[0], priority)
        creator = self._creator(rng, channel)
        repeat_of = plan.repeat_of[index] or None
        self._event("created", created, creator, "", "new", None, state.tier_id,
                    data=f'{{"channel": "{channel}", "priority": "{priority}"}}')
        if repeat_of:
            self._event("repeat_linked", created, ("system", None, None), "new", "new", state.tier_id,
                        state.tier_id, data=f'{{"repeat_of": {repeat_of}, "reference": "HD-{repeat_of:06d}"}}')
        for at, step in timeline:
            if isinstance(step, tuple):
                self._comment(rng, at, *step)
            elif step == "resume" and state.status != "waiting":
                continue  # the customer's reply already resumed it
            elif step.startswith("close_"):
                self._close(rng, at, step)
            else:
                getattr(self, "_" + step)(rng, at, step)
        if state.status != status:
            raise SeedError(f"ticket {self.id}: ended {state.status}, planned {status}")
        self._row(subject, description, priority, channel, category, creator, repeat_of)

    def _creator(self, rng, channel: str):
        if channel == "phone":
            return ("agent", rng.choice(self.world.members[self.world.tier_ids[0]]), None)
        if channel == "api":
            return ("integration", self.world.manager, None)
        return self.customer

    def _timeline(self, rng, phases, highest: int, status: str, comments: int, created: datetime):
        """(moment, step) in order: the planned steps and the comments, squeezed to end before the world's end."""
        before, reopen, close = phases
        mean = DAYS_TO_RESOLVE[highest] * DAY
        offsets = []
        if before:
            span = max(rng.expovariate(1 / mean), 600.0)
            offsets = [*sorted(rng.random() * span for _ in before[:-1]), span]
        moment = offsets[-1] if offsets else 0.0
        if reopen:
            moment += min(rng.expovariate(1 / (REOPEN_DAYS * DAY)), 2.5 * DAY)
            span = max(rng.expovariate(2 / mean), 600.0)
            offsets += [moment, *sorted(moment + rng.random() * span for _ in reopen[1:-1]), moment + span]
            moment = offsets[-1]
        auto_close = close == ["close_auto"]
        if close:
            if auto_close:
                moment += self.world.auto_close_seconds + rng.random() * SWEEP_LAG_SECONDS
            else:
                moment += min(rng.expovariate(1 / (CONFIRM_DAYS * DAY)), 2.9 * DAY)
            offsets.append(moment)
            comments_until = moment
        elif status == "waiting":
            comments_until = moment  # a customer's reply would resume it
        else:
            comments_until = moment + rng.expovariate(1 / (TAIL_DAYS * DAY))
        room = (self.world.end - created).total_seconds()
        if comments_until > room:
            scale = room / comments_until * 0.999
            offsets = [offset * scale for offset in offsets]
            comments_until *= scale
            if auto_close:  # no room for AUTO_CLOSE_DAYS of silence: the customer confirmed
                close[-1] = "close_confirmed"
        said = sorted(rng.random() * comments_until for _ in range(comments))
        items = [(offset, 0, step) for offset, step in zip(offsets, before + reopen + close, strict=True)]
        for number, offset in enumerate(said):
            agent = number % 2 == 0
            items.append((offset, 1, (agent, agent and rng.random() < INTERNAL_NOTES)))
        items.sort(key=lambda item: (item[0], item[1]))
        timeline, previous = [], -1.0
        for offset, _order, step in items:
            offset = max(offset, previous + MIN_GAP_SECONDS)
            timeline.append((created + timedelta(seconds=offset), step))
            previous = offset
        return timeline

    # --- the steps: each does what the service of the same name does ---------

    def _agent(self, rng):
        """The assignee when there is one, otherwise any agent of the ticket's tier."""
        state = self.state
        if state.assignee_id is not None:
            return ("agent", state.assignee_id, None)
        return ("agent", rng.choice(self.world.members[state.tier_id]), None)

    def _assign(self, rng, at, step):
        assignee = rng.choice(self.world.members[self.state.tier_id])
        self._apply("assign", ("manager", self.world.manager, None), at, {"assignee_id": assignee},
                    data=f'{{"assignee": "{self.world.usernames[assignee]}"}}')

    def _take(self, rng, at, step):
        actor = self._agent(rng)
        self._apply("take", actor, at, {"assignee_id": actor[1]})

    def _diagnose(self, rng, at, step):
        self._apply("diagnose", self._agent(rng), at, self._diagnosis(rng),
                    data='{"fields": ["affected_item", "findings", "steps_before"]}')

    def _diagnosis(self, rng) -> dict:
        return {
            "affected_item": f"{self.item[0].upper()}{self.item[1:]} #{rng.randint(1000, 9999)}",
            "steps_before": rng.choice(STEPS_BEFORE),
            "findings": rng.choice(FINDINGS),
        }

    def _start(self, rng, at, step):
        self._apply("start_resolving", self._agent(rng), at)

    def _wait(self, rng, at, step):
        self._apply("wait", self._agent(rng), at, {"waiting_from": self.state.status},
                    reason=rng.choice(WAIT_REASONS))

    def _resume(self, rng, at, step):
        self._apply("resume", self._agent(rng), at, {"waiting_from": ""})

    def _resolve(self, rng, at, step):
        from tickets.deadlines import business_time_to_resolve

        changes = {} if self.state.affected_item else self._diagnosis(rng)
        changes["resolution_summary"] = rng.choice(RESOLUTIONS).format(item=self.item)
        changes["resolved_at"] = at
        changes["resolve_business_us"] = business_time_to_resolve(self.state.created_at, at, self.state.tier_id,
                                                                  self.state.priority)
        self._apply("resolve", self._agent(rng), at, changes)

    def _escalate(self, rng, at, step):
        self._apply("escalate", self._agent(rng), at, {"assignee_id": None, "waiting_from": ""},
                    reason=rng.choice(ESCALATE_REASONS))

    def _de_escalate(self, rng, at, step):
        defect = rng.random() < DEFECT
        self._apply("de_escalate", self._agent(rng), at, {"assignee_id": None, "waiting_from": ""},
                    reason=rng.choice(DE_ESCALATE_REASONS), data='{"defect": true}' if defect else '{"defect": false}')

    def _reopen(self, rng, at, step):
        self._apply("reopen", self.customer, at, {"reopen_count": self.state.reopen_count + 1},
                    reason=rng.choice(REOPEN_REASONS))

    def _close(self, rng, at, step):
        how = step.split("_", 1)[1]
        if how == "auto":
            actor, rating, comment, data = ("system", None, None), None, "", '{"auto": true}'
        elif how == "rated":
            rating = DRAW.rating.pick(rng)
            comment = rng.choice(CSAT_COMMENTS) if rng.random() < 0.3 else ""
            actor, data = self.customer, f'{{"csat": {rating}}}'
        else:
            actor, rating, comment, data = self.customer, None, "", "{}"
        self._apply("close", actor, at, {"closed_at": at, "csat_rating": rating, "csat_comment": comment},
                    reason=comment, data=data)

    def _comment(self, rng, at, by_agent: bool, internal: bool):
        state = self.state
        if by_agent:
            actor = self._agent(rng)
            body = rng.choice(INTERNAL_NOTE_BODIES if internal else AGENT_REPLIES).format(item=self.item)
        else:
            actor = self.customer
            body = rng.choice(CUSTOMER_REPLIES).format(item=self.item)
        comment_id = self.next_comment
        self.next_comment += 1
        role, user, requester = actor
        self.comments.append(
            f"{comment_id}\t{self.id}\t{_value(user)}\t{_value(requester)}\t{role}\t{body}\t"
            f"{'t' if internal else 'f'}\t{at.isoformat()}\n"
        )
        self.search_text.append(body)
        self._apply("comment", actor, at, responds=by_agent and not internal,
                    data=f'{{"internal": {"true" if internal else "false"}, "author_role": "{role}", '
                         f'"comment_id": {comment_id}}}')
        if role == "customer" and state.status == "waiting":
            self._apply("resume", actor, at + timedelta(milliseconds=1), {"waiting_from": ""},
                        data='{"trigger": "customer_reply"}')

    # --- the common path ----------------------------------------------------

    def _apply(self, action, actor, at, changes=None, *, reason="", data="{}", responds=False):
        from tickets.deadlines import clock_changes
        from tickets.workflow import PREVIOUS, SAME, transition_for

        state, world = self.state, self.world
        role, user, _requester = actor
        transition = transition_for(state.status, action)
        if transition is None or role not in transition.actors:
            raise SeedError(f"ticket {self.id}: {role} cannot {action} a {state.status} ticket")
        from_status, from_tier = state.status, state.tier_id
        if role == "agent" and user not in world.members[from_tier]:
            raise SeedError(f"ticket {self.id}: agent {user} is not in tier {from_tier}")
        if transition.target == SAME:
            to_status = from_status
        elif transition.target == PREVIOUS:
            to_status = state.waiting_from or "diagnosing"
        else:
            to_status = str(transition.target)
        to_tier = world.tier_step(from_tier, transition.tier_step)
        state.status, state.tier_id = to_status, to_tier
        if role in world.staff_roles and state.first_response_at is None and (responds or to_status != from_status):
            state.first_response_at = at
        state.version += 1
        state.updated_at = at
        if changes:
            for name, value in changes.items():
                setattr(state, name, value)
        for name, value in clock_changes(state, from_status=from_status, tier_changed=to_tier != from_tier,
                                         now=at).items():
            setattr(state, name, value)
        self._event(str(transition.event), at, actor, from_status, to_status, from_tier, to_tier, reason, data)

    def _event(self, kind, at, actor, from_status, to_status, from_tier, to_tier, reason="", data="{}"):
        role, user, requester = actor
        moment = at.isoformat()
        self.events.append(
            f"{self.id}\t{kind}\t{moment}\t{_value(user)}\t{_value(requester)}\t{role}\t{from_status}\t{to_status}\t"
            f"{_value(from_tier)}\t{_value(to_tier)}\t{reason}\t{data}\t{moment}\n"
        )

    def _row(self, subject, description, priority, channel, category, creator, repeat_of):
        from tickets.portal import tokens

        state, world = self.state, self.world
        salt = f"{self.rng.getrandbits(128):032x}"
        token_hash = tokens.token_hash(tokens.tracking_token(SimpleNamespace(pk=self.id, tracking_salt=salt)))
        created_by = creator[1] if creator[0] in ("agent", "integration") else None
        t = _timestamp
        self.tickets.append(
            f"{self.id}\t{subject}\t{description}\t{state.status}\t{priority}\t{channel}\t{state.version}\t"
            f"{t(state.created_at)}\t{t(state.updated_at)}\t{t(state.first_response_at)}\t{t(state.resolved_at)}\t"
            f"{t(state.closed_at)}\t{t(state.response_due_at)}\t{t(state.escalation_due_at)}\t"
            f"{t(state.resolution_due_at)}\t{state.affected_item}\t{state.steps_before}\t{state.findings}\t"
            f"{state.resolution_summary}\t{state.waiting_from}\t{state.reopen_count}\t{_value(state.csat_rating)}\t"
            f"{state.csat_comment}\t{_value(state.assignee_id)}\t{world.categories[category]}\t{_value(created_by)}\t"
            f"{_value(repeat_of)}\t{self.requester}\t{state.tier_id}\t{t(state.escalation_warn_at)}\t"
            f"{t(state.resolution_warn_at)}\t{t(state.response_warn_at)}\t{state.sla_flags}\t"
            f"{t(state.sla_next_check_at)}\t{_interval(state.sla_paused)}\t{t(state.sla_paused_at)}\t"
            f"{NEWLINE.join(self.search_text)}\t{salt}\t{token_hash}\t{_value(state.resolve_business_us)}\n"
        )


# --- loading ----------------------------------------------------------------------


class EventIds:
    """The first event id of each chunk, known once the chunk before it is made: ids follow ticket order."""

    def __init__(self, context, chunks: int):
        self.first = context.Array("q", chunks + 1, lock=False)
        self.known = context.Array("b", chunks + 1, lock=False)
        self.failed = context.Value("b", 0, lock=False)
        self.condition = context.Condition()
        self.first[0], self.known[0] = 1, 1

    def claim(self, chunk: int, count: int) -> int:
        with self.condition:
            while not self.known[chunk]:
                if self.failed.value:
                    raise SeedError("another worker failed")
                self.condition.wait(1.0)
            first = self.first[chunk]
            self.first[chunk + 1], self.known[chunk + 1] = first + count, 1
            self.condition.notify_all()
        return first


def _work(world, worker: int, event_ids: EventIds, done) -> None:
    """Make and COPY every WORKERS-th chunk, each in its own transaction."""
    from django.db import connection, transaction

    try:
        with connection.cursor() as cursor:
            # Foreign keys are right by construction (and verified by check());
            # skipping the per-row trigger checks is most of COPY's speed.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET synchronous_commit = off")
        for number in range(worker, world.plan.chunks, WORKERS):
            chunk = Chunk(world, number).make()
            first_event = event_ids.claim(number, len(chunk.events))
            with transaction.atomic(), connection.cursor() as cursor:
                chunk.copy_into(cursor, first_event)
            with done.get_lock():
                done.value += chunk.last - chunk.first
    except BaseException:
        event_ids.failed.value = 1
        traceback.print_exc()
        raise
    finally:
        connection.close()


def _load(world) -> int:
    """Run the workers, printing progress; returns the number of events."""
    from django.db import connections

    plan = world.plan
    context = multiprocessing.get_context("fork")
    event_ids = EventIds(context, plan.chunks)
    done = context.Value("q", 0)
    connections.close_all()  # each worker opens its own
    workers = [
        context.Process(target=_work, args=(world, number, event_ids, done))
        for number in range(min(WORKERS, plan.chunks))
    ]
    started = report = time.perf_counter()
    for worker in workers:
        worker.start()
    while any(worker.exitcode is None for worker in workers):
        wait_for_any([worker.sentinel for worker in workers], timeout=1)
        if any(worker.exitcode not in (None, 0) for worker in workers):
            event_ids.failed.value = 1
            for worker in workers:
                worker.join(30)
            raise SeedError("a worker failed; see its traceback above")
        if time.perf_counter() - report >= PROGRESS_SECONDS:
            report = time.perf_counter()
            _progress(done.value, plan.tickets, report - started)
    _progress(done.value, plan.tickets, time.perf_counter() - started)
    if done.value != plan.tickets:
        raise SeedError(f"only {done.value} of {plan.tickets} tickets were loaded")
    return event_ids.first[plan.chunks] - 1


def _progress(done: int, total: int, seconds: float) -> None:
    print(f"  {done:>9,} / {total:,} tickets in {seconds:5.0f} s, {done / seconds:,.0f} tickets/s", flush=True)


def seed(tickets: int, *, seed: int = 42, now=None) -> dict:
    """Load the standard workload with `tickets` tickets into the (empty, migrated) default database.

    Returns the counts and the seconds spent in each stage.
    """
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from tickets import backlog
    from tickets.models import Ticket

    if connection.vendor != "postgresql":
        raise SeedError("The workload is loaded with COPY: PostgreSQL only.")
    if Ticket.objects.exists():
        raise SeedError("The database already has tickets; seed an empty one (--recreate).")
    seconds = {}
    started = mark = time.perf_counter()
    now = now or timezone.now()
    end = now - END_BEFORE_NOW
    start = end - timedelta(days=3 * 365 if tickets >= 1_000_000 else 365)
    people = _create_people(make_password(PASSWORD), since=start - timedelta(days=1))
    plan = Plan(tickets, seed, start, end - LAST_TICKET_BEFORE_NOW, settings.REPEAT_WINDOW_DAYS)
    world = _world(people, plan, seed=seed, end=end)
    seconds["people_and_plan"], mark = time.perf_counter() - mark, time.perf_counter()
    with connection.cursor() as cursor:
        indexes = secondary_indexes(cursor)
        for name, _table, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        events = _load(world)
        seconds["generate_and_copy"], mark = time.perf_counter() - mark, time.perf_counter()
    finally:
        # The events' indexes and the full-text index take longest: they go first.
        build_indexes([definition for _name, table, definition in sorted(
            indexes, key=lambda index: (index[1] != "tickets_event", "USING gin" not in index[2]))])
    seconds["indexes"], mark = time.perf_counter() - mark, time.perf_counter()
    backlog.rebuild()
    with connection.cursor() as cursor:
        reset_sequences(cursor)
        cursor.execute("VACUUM (ANALYZE)")
    seconds["vacuum_analyze"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return {
        "tickets": tickets,
        "events": events,
        "comments": plan.comment_base[-1] - 1,
        "requesters": len(people.requesters),
        "agents": sum(len(members) for members in people.members.values()),
        "from": start,
        "to": end,
        "seconds": seconds,
        "tickets_per_second": tickets / seconds["total"],
    }


def _world(people, plan: Plan, *, seed: int, end: datetime) -> SimpleNamespace:
    """Everything a worker needs to make its chunks, fixed before the workers start."""
    from django.conf import settings

    from tiers.roles import Role

    tier_ids = people.tier_ids
    return SimpleNamespace(
        **vars(people),
        seed=seed,
        plan=plan,
        end=end,
        staff_roles=frozenset({Role.AGENT, Role.MANAGER, Role.INTEGRATION}),  # the integration acts as the manager
        auto_close_seconds=settings.AUTO_CLOSE_DAYS * DAY,
        subjects={slug: _subjects(slug) for _name, slug, _weight in CATEGORIES},
        tier_step=lambda tier_id, step: tier_ids[_tier_index(tier_ids, tier_id, step)],
    )


def _tier_index(tier_ids: list, tier_id: int, step: int) -> int:
    index = tier_ids.index(tier_id) + step
    if not 0 <= index < len(tier_ids):
        raise SeedError(f"no tier {step:+d} from tier {tier_id}")
    return index


# --- checking ---------------------------------------------------------------------

ACTION_OF_EVENT = {
    "taken": "take", "assigned": "assign", "diagnosed": "diagnose", "resolving_started": "start_resolving",
    "waiting": "wait", "resumed": "resume", "resolved": "resolve", "escalated": "escalate",
    "de_escalated": "de_escalate", "reopened": "reopen", "closed": "close", "commented": "comment",
}
COMPARED_FIELDS = (
    "status", "tier_id", "assignee_id", "version", "updated_at", "first_response_at", "resolved_at", "closed_at",
    "reopen_count", "csat_rating", "waiting_from", "sla_flags", "sla_paused", "sla_paused_at", "sla_next_check_at",
)


def check(sample: int = 2000, *, seed: int = 0) -> list[str]:
    """Replay a sample of tickets, compare the totals with WORKLOAD.md; returns the failures (none: passed)."""
    return _check_sample(sample, seed) + _check_totals() + _check_database()


def _check_sample(sample: int, seed: int) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db.models import Max, Min

    from tickets.models import Comment, Event, Ticket
    from tiers.models import Tier, TierMembership
    from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP

    bounds = Ticket.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return ["no tickets"]
    population = range(bounds["low"], bounds["high"] + 1)
    ids = sorted(random.Random(seed).sample(population, min(sample, len(population))))
    users = get_user_model().objects.prefetch_related("groups")
    roles = {}
    for user in users:
        names = {group.name for group in user.groups.all()}
        roles[user.pk] = "manager" if MANAGERS_GROUP in names else "agent" if AGENTS_GROUP in names else None
    members = {}
    for user_id, tier_id in TierMembership.objects.values_list("user_id", "tier_id"):
        members.setdefault(user_id, set()).add(tier_id)
    context = SimpleNamespace(
        tier_ids=list(Tier.objects.order_by("level").values_list("pk", flat=True)),
        roles=roles,
        members=members,
        user_ids={user.username: user.pk for user in users},
    )
    events, comments = {}, {}
    for event in Event.objects.filter(ticket_id__in=ids).order_by("ticket_id", "at", "id"):
        events.setdefault(event.ticket_id, []).append(event)
    for comment in Comment.objects.filter(ticket_id__in=ids).order_by("ticket_id", "id"):
        comments.setdefault(comment.ticket_id, []).append(comment)
    window = timedelta(days=settings.REPEAT_WINDOW_DAYS)
    failures, tickets = [], list(Ticket.objects.filter(pk__in=ids))
    if len(tickets) != len(ids):
        failures.append(f"{len(ids) - len(tickets)} ticket ids missing between {bounds['low']} and {bounds['high']}")
    for ticket in tickets:
        problems = Replay(ticket, events.get(ticket.pk, []), comments.get(ticket.pk, []), context).problems
        expected_repeat = (
            Ticket.objects.filter(
                requester_id=ticket.requester_id,
                category_id=ticket.category_id,
                created_at__gte=ticket.created_at - window,
                created_at__lt=ticket.created_at,
            )
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if ticket.repeat_of_id != expected_repeat:
            problems.append(f"repeat_of {ticket.repeat_of_id}, expected {expected_repeat}")
        failures += [f"ticket {ticket.pk}: {problem}" for problem in problems]
    return failures


class Replay:
    """One ticket's events played through the workflow table as the services would apply them.

    `problems` lists every way the events disagree with the workflow, with
    each other, or with the ticket's stored fields.
    """

    def __init__(self, ticket, events, comments, context):
        self.ticket, self.comments, self.context = ticket, comments, context
        self.comment_of = {comment.pk: comment for comment in comments}
        self.problems, self.said, self.diagnosed = [], [], False
        self.state = opened_ticket(ticket.created_at, context.tier_ids[0], ticket.priority)
        rest = self._opening(events)
        previous = events[0] if events else None
        for event in rest if rest is not None else ():
            if not self._move(event, previous):
                break
            previous = event
        self._compare()

    def _opening(self, events):
        """Check `created` (and `repeat_linked`); return the events after them, or None when there is no start."""
        ticket, context = self.ticket, self.context
        if not events or events[0].kind != "created":
            self.problems.append("the first event is not `created`")
            return None
        created, *rest = events
        if (created.at, created.from_status, created.to_status, created.from_tier_id, created.to_tier_id) != (
            ticket.created_at, "", "new", None, context.tier_ids[0]
        ):
            self.problems.append("`created` does not match the ticket's creation")
        if not _created_by_right_actor(created, ticket, context):
            self.problems.append("`created` is not by the customer, an L1 agent (phone) or an integration (api)")
        if ticket.repeat_of_id is not None:
            linked, *rest = rest or [None]
            if linked is None or (linked.kind, linked.at, linked.actor_role, linked.data.get("repeat_of")) != (
                "repeat_linked", ticket.created_at, "system", ticket.repeat_of_id
            ):
                self.problems.append("no `repeat_linked` event right after `created`")
        return rest

    def _move(self, event, previous) -> bool:
        """Apply one event; False when the workflow refuses it (the rest cannot be replayed)."""
        from tickets.deadlines import clock_changes
        from tickets.workflow import PREVIOUS, SAME, transition_for

        state, context, where = self.state, self.context, f"event {event.pk} ({event.kind})"
        if event.at <= previous.at:
            self.problems.append(f"{where} is not after the event before it")
        if event.dispatched_at is None:
            self.problems.append(f"{where} is not dispatched")
        action = ACTION_OF_EVENT.get(event.kind)
        transition = transition_for(state.status, action) if action else None
        level = context.tier_ids.index(state.tier_id) + (transition.tier_step if transition else 0)
        if transition is None or str(transition.event) != event.kind or not 0 <= level < len(context.tier_ids):
            self.problems.append(f"{where}: not allowed from {state.status} at tier {state.tier_id}")
            return False
        self.problems += _actor_problems(where, event, transition, state, self.ticket, context)
        if transition.target == SAME:
            to_status = state.status
        elif transition.target == PREVIOUS:
            to_status = state.waiting_from or "diagnosing"
        else:
            to_status = str(transition.target)
        to_tier = context.tier_ids[level]
        if (event.from_status, event.to_status, event.from_tier_id, event.to_tier_id) != (
            state.status, to_status, state.tier_id, to_tier
        ):
            self.problems.append(f"{where}: {event.from_status}→{event.to_status}, expected {state.status}→{to_status}")
        from_status, from_tier = state.status, state.tier_id
        state.status, state.tier_id = to_status, to_tier
        public_reply = event.kind == "commented" and not event.data.get("internal")
        if event.actor_role in ("agent", "manager") and state.first_response_at is None and (
            public_reply or to_status != from_status
        ):
            state.first_response_at = event.at
        state.version += 1
        state.updated_at = event.at
        self._effects(event, where, from_status, previous)
        for name, value in clock_changes(state, from_status=from_status, tier_changed=to_tier != from_tier,
                                         now=event.at).items():
            setattr(state, name, value)
        return True

    def _effects(self, event, where, from_status, previous):
        """What each kind of change does to the ticket besides its status and tier."""
        state, kind = self.state, event.kind
        if kind == "taken":
            state.assignee_id = event.actor_id
        elif kind == "assigned":
            state.assignee_id = self.context.user_ids.get(event.data.get("assignee"))
            if state.tier_id not in self.context.members.get(state.assignee_id, ()):
                self.problems.append(f"{where}: assignee not in the tier")
        elif kind == "diagnosed":
            self.diagnosed = True
        elif kind == "resolving_started" and not self.diagnosed:
            self.problems.append(f"{where}: resolving without a diagnosis")
        elif kind == "waiting":
            state.waiting_from = from_status
        elif kind == "resumed":
            state.waiting_from = ""
            if event.actor_role == "customer" and (
                (previous.kind, previous.actor_role, event.data.get("trigger"))
                != ("commented", "customer", "customer_reply")
            ):
                self.problems.append(f"{where}: resumed by the customer without their reply")
        elif kind == "resolved":
            state.resolved_at, self.diagnosed = event.at, True
        elif kind in ("escalated", "de_escalated"):
            state.assignee_id, state.waiting_from = None, ""
            if not event.reason or (kind == "de_escalated" and not isinstance(event.data.get("defect"), bool)):
                self.problems.append(f"{where}: reason or defect flag missing")
        elif kind == "reopened":
            state.reopen_count += 1
        elif kind == "closed":
            state.closed_at, state.csat_rating = event.at, event.data.get("csat")
        elif kind == "commented":
            self.said.append(event.data.get("comment_id"))
            self.problems += _comment_problems(where, event, self.comment_of.get(event.data.get("comment_id")))

    def _compare(self):
        """The ticket's stored fields against what its events give."""
        from tickets.deadlines import CLOCK_FIELDS
        from tickets.portal import tokens

        ticket, state, comments, problems = self.ticket, self.state, self.comments, self.problems
        for name in COMPARED_FIELDS + tuple(CLOCK_FIELDS):
            if getattr(ticket, name) != getattr(state, name):
                problems.append(f"{name} is {getattr(ticket, name)}, the events give {getattr(state, name)}")
        if sorted(self.said) != sorted(self.comment_of):
            problems.append("comments and `commented` events differ")
        by_time = sorted(comments, key=lambda comment: (comment.created_at, comment.pk))
        agents = [comment.author_role != "customer" for comment in by_time]
        if not 1 <= len(comments) <= MAX_COMMENTS or agents != [n % 2 == 0 for n in range(len(agents))]:
            problems.append("comments do not alternate agent and customer, 1 to 5 of them")
        if ticket.search_text != "\n".join([ticket.subject, ticket.description, *(c.body for c in comments)]):
            problems.append("search_text is not subject, description and comments")
        if bool(ticket.affected_item and ticket.steps_before and ticket.findings) != self.diagnosed:
            problems.append("diagnosis fields do not match the events")
        if bool(ticket.resolution_summary) != (ticket.resolved_at is not None):
            problems.append("resolution summary does not match the events")
        if not 3 <= len(ticket.subject.split()) <= 6:
            problems.append("subject is not 3–6 words")
        if tokens.token_hash(tokens.tracking_token(ticket)) != ticket.tracking_token_hash:
            problems.append("the tracking link does not open the ticket (seeded with another SECRET_KEY?)")


def _created_by_right_actor(event, ticket, context) -> bool:
    role = event.actor_role
    if role == "customer":
        return event.actor_requester_id == ticket.requester_id and event.actor_id is None
    if role == "agent":
        return context.tier_ids[0] in context.members.get(event.actor_id, ()) and ticket.created_by_id == event.actor_id
    return role == "integration" and context.roles.get(event.actor_id) and ticket.created_by_id == event.actor_id


def _actor_problems(where, event, transition, state, ticket, context) -> list[str]:
    role = event.actor_role
    if role not in transition.actors:
        return [f"{where}: {role} may not do this"]
    if role in ("agent", "manager"):
        if event.actor_requester_id is not None or context.roles.get(event.actor_id) != role:
            return [f"{where}: actor {event.actor_id} is not a {role}"]
        if role == "agent" and state.tier_id not in context.members.get(event.actor_id, ()):
            return [f"{where}: agent {event.actor_id} is not in the ticket's tier"]
    elif role == "customer" and (event.actor_id is not None or event.actor_requester_id != ticket.requester_id):
        return [f"{where}: not the ticket's customer"]
    elif role == "system" and (event.actor_id is not None or event.actor_requester_id is not None):
        return [f"{where}: the system has no user"]
    if event.kind == "closed" and event.data.get("csat") is not None and role not in ("customer", "integration"):
        return [f"{where}: rated by {role}"]
    return []


def _comment_problems(where, event, comment) -> list[str]:
    if comment is None:
        return [f"{where}: its comment does not exist"]
    if (comment.created_at, comment.author_role, comment.author_id, comment.author_requester_id, comment.internal) != (
        event.at, event.actor_role, event.actor_id, event.actor_requester_id, event.data.get("internal")
    ) or event.data.get("author_role") != event.actor_role:
        return [f"{where}: does not match comment {comment.pk}"]
    if comment.internal and comment.author_role == "customer":
        return [f"{where}: an internal note by the customer"]
    return []


def _check_totals() -> list[str]:
    """The shares of WORKLOAD.md, within a few standard errors."""
    from django.db.models import Count, Q

    from tickets.models import Comment, Event, Ticket
    from tiers.models import Tier

    failures = []

    def near(name, part, whole, expected):
        share = part / whole if whole else 0.0
        tolerance = 0.005 + 4 * math.sqrt(expected * (1 - expected) / max(whole, 1))
        verdict = "ok" if abs(share - expected) <= tolerance else "FAIL"
        print(f"  {name:<28} {share:7.3f}  expected {expected:.3f} ± {tolerance:.3f}  {verdict}")
        if verdict != "ok":
            failures.append(f"{name}: {share:.3f}, expected {expected:.3f} ± {tolerance:.3f}")

    tickets = Ticket.objects.count()
    by_status = dict(Ticket.objects.values_list("status").annotate(n=Count("id")).order_by())
    for status, weight in STATUSES.items():
        near(f"status {status}", by_status.get(status, 0), tickets, weight / 100)
    by_priority = dict(Ticket.objects.values_list("priority").annotate(n=Count("id")).order_by())
    for priority, weight in PRIORITIES.items():
        near(f"priority {priority}", by_priority.get(priority, 0), tickets, weight / 100)
    by_category = dict(Ticket.objects.values_list("category__slug").annotate(n=Count("id")).order_by())
    for _name, slug, weight in CATEGORIES:
        near(f"category {slug}", by_category.get(slug, 0), tickets, weight / 100)
    tiers = list(Tier.objects.order_by("level"))
    reached = dict(
        Event.objects.filter(kind="escalated").values_list("to_tier_id").annotate(n=Count("ticket_id", distinct=True))
        .order_by()
    )
    at_l2, at_l3 = reached.get(tiers[1].pk, 0), reached.get(tiers[2].pk, 0)
    near("path stays at L1", tickets - at_l2, tickets, HIGHEST_TIER[1] / 100)
    near("path reaches L2 (not L3)", at_l2 - at_l3, tickets, HIGHEST_TIER[2] / 100)
    near("path reaches L3", at_l3, tickets, HIGHEST_TIER[3] / 100)
    de_escalations = Event.objects.filter(kind="de_escalated").aggregate(
        tickets=Count("ticket_id", distinct=True), events=Count("id"), defects=Count("id", filter=Q(data__defect=True))
    )
    near("de-escalated", de_escalations["tickets"], tickets, DE_ESCALATED)
    near("de-escalations marked defect", de_escalations["defects"], de_escalations["events"], DEFECT)
    done = Ticket.objects.filter(status__in=("resolved", "closed")).aggregate(
        n=Count("id"),
        reopened=Count("id", filter=Q(reopen_count__gt=0)),
        twice=Count("id", filter=Q(reopen_count__gt=1)),
    )
    near("reopened (resolved/closed)", done["reopened"], done["n"], REOPENED)
    if done["twice"]:
        failures.append(f"{done['twice']} tickets reopened more than once")
    closed = by_status.get("closed", 0)
    ratings = dict(Ticket.objects.filter(status="closed").values_list("csat_rating").annotate(n=Count("id")).order_by())
    rated = sum(n for rating, n in ratings.items() if rating is not None)
    near("CSAT given (closed)", rated, closed, RATED)
    for rating, weight in RATINGS.items():
        near(f"CSAT rating {rating}", ratings.get(rating, 0), rated, weight / 100)
    comments = Comment.objects.count()
    mean = comments / tickets
    print(f"  {'comments per ticket':<28} {mean:7.3f}  expected 3.000")
    if abs(mean - 3) > 0.01 + 4 * math.sqrt(2 / tickets):  # 1 + randint(0, 4): mean 3, variance 2
        failures.append(f"comments per ticket {mean:.3f}, expected 3")
    internal = Comment.objects.filter(author_role__in=("agent", "manager")).aggregate(
        n=Count("id"), internal=Count("id", filter=Q(internal=True))
    )
    near("internal agent comments", internal["internal"], internal["n"], INTERNAL_NOTES)
    repeats = Ticket.objects.filter(repeat_of__isnull=False).count()
    print(f"  {'repeat_of set (not fixed)':<28} {repeats / tickets:7.3f}")
    return failures


def _check_database() -> list[str]:
    """What must hold for every row: dispatched events, no sweep work on done tickets, intact references."""
    from django.db import connection
    from django.utils import timezone

    from tickets import backlog

    queries = {
        "events not dispatched": "SELECT count(*) FROM tickets_event WHERE dispatched_at IS NULL",
        "resolved/closed tickets the SLA sweep would pick": (
            "SELECT count(*) FROM tickets_ticket"
            " WHERE status IN ('resolved', 'closed') AND sla_next_check_at IS NOT NULL"
        ),
        "tickets whose closed_at does not match their status": (
            "SELECT count(*) FROM tickets_ticket WHERE (status = 'closed') <> (closed_at IS NOT NULL)"
        ),
        "events in the future": "SELECT count(*) FROM tickets_event WHERE at >= %s",
        "broken references from tickets": """
            SELECT count(*) FROM tickets_ticket t WHERE
                NOT EXISTS (SELECT 1 FROM tickets_requester r WHERE r.id = t.requester_id)
                OR NOT EXISTS (SELECT 1 FROM tiers_tier x WHERE x.id = t.tier_id)
                OR NOT EXISTS (SELECT 1 FROM tickets_category c WHERE c.id = t.category_id)
                OR (t.assignee_id IS NOT NULL AND t.assignee_id NOT IN (SELECT id FROM auth_user))
                OR (t.created_by_id IS NOT NULL AND t.created_by_id NOT IN (SELECT id FROM auth_user))
                OR (t.repeat_of_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM tickets_ticket p WHERE p.id = t.repeat_of_id AND p.created_at < t.created_at))
        """,
        "broken references from events": """
            SELECT count(*) FROM tickets_event e WHERE
                NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.id = e.ticket_id)
                OR (e.actor_id IS NOT NULL AND e.actor_id NOT IN (SELECT id FROM auth_user))
                OR (e.actor_requester_id IS NOT NULL
                    AND e.actor_requester_id NOT IN (SELECT id FROM tickets_requester))
                OR (e.from_tier_id IS NOT NULL AND e.from_tier_id NOT IN (SELECT id FROM tiers_tier))
                OR (e.to_tier_id IS NOT NULL AND e.to_tier_id NOT IN (SELECT id FROM tiers_tier))
        """,
        "broken references from comments": """
            SELECT count(*) FROM tickets_comment c WHERE
                NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.id = c.ticket_id)
                OR (c.author_id IS NOT NULL AND c.author_id NOT IN (SELECT id FROM auth_user))
                OR (c.author_requester_id IS NOT NULL
                    AND c.author_requester_id NOT IN (SELECT id FROM tickets_requester))
        """,
        "rows above their table's sequence": "SELECT " + " + ".join(
            f"(SELECT count(*) FROM {table} WHERE id > coalesce("
            f"pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')), 0))"
            for table in LOADED_TABLES
        ),
        "invalid indexes": "SELECT count(*) FROM pg_index WHERE NOT indisvalid",
    }
    failures = []
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, [timezone.now()] if "%s" in sql else None)
            count = cursor.fetchone()[0]
            if count:
                failures.append(f"{name}: {count}")
        cursor.execute("SELECT tier_id, status, count(*) FROM tickets_ticket"
                       " WHERE status IN ('new', 'diagnosing', 'resolving', 'waiting') GROUP BY 1, 2")
        counted = {(tier_id, status): n for tier_id, status, n in cursor.fetchall()}
    if counted != backlog.counts():
        failures.append(f"open-ticket counts kept {backlog.counts()} differ from the tickets' {counted}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=0, help="how many tickets to load (0: load nothing)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                        help="the moment the data ends at, e.g. 2026-11-25T18:00+00:00 (default: now)")
    parser.add_argument("--recreate", action="store_true", help="drop, re-create and migrate the database first")
    parser.add_argument("--check", action="store_true", help="check the loaded data; exit 1 on any failure")
    parser.add_argument("--sample", type=int, default=2000, help="tickets replayed by --check")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to the PostgreSQL database to load.")
    if not args.tickets and not args.check:
        parser.error("give --tickets, --check, or both")

    import django

    started = time.perf_counter()
    if args.recreate:
        recreate_database(url)
    django.setup()
    if args.recreate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"database re-created and migrated in {time.perf_counter() - started:.1f} s", flush=True)
    if args.tickets:
        result = seed(args.tickets, seed=args.seed, now=args.now)
        stages = ", ".join(f"{name} {value:.1f} s" for name, value in result["seconds"].items() if name != "total")
        print(
            f"\nloaded {result['tickets']:,} tickets, {result['events']:,} events, {result['comments']:,} comments"
            f" ({result['from']:%Y-%m-%d} – {result['to']:%Y-%m-%d %H:%M})"
            f"\n  {result['seconds']['total']:.1f} s, {result['tickets_per_second']:,.0f} tickets/s ({stages})"
            f"\n  wall time including re-create and migrate: {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    if args.check:
        checked = time.perf_counter()
        failures = check(args.sample)
        for failure in failures[:50]:
            print(f"FAIL {failure}")
        if len(failures) > 50:
            print(f"… and {len(failures) - 50} more failures")
        print(f"check: {'FAILED, ' + str(len(failures)) + ' failures' if failures else 'passed'}"
              f" in {time.perf_counter() - checked:.1f} s")
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
