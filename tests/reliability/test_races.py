"""Fifty clients racing on twenty tickets: every log stays a path through the workflow, no update is lost.

Each client is a thread with its own database connection and its own Django test client. Agents and managers
drive the tickets through the API (some with a token, some signed in), customers reply, confirm or say "not
fixed" through the portal, and the SLA sweep runs alongside, on tickets whose deadlines are seconds long.
Every call's outcome is recorded. Afterwards each ticket's events are replayed, in id order, through the
transition table of `tickets.workflow` and compared with the ticket, with every successful response and with
the open-ticket counts of `tickets.backlog`. A second test pins one race on its own: the answer to an action
shows the version that action wrote, even when another writer commits right after it.
"""
import random
import threading
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.concurrency import race
from tests.factories import make_ticket, staff_user
from tickets import backlog, services
from tickets.api.views import TicketViewSet
from tickets.models import Comment, Event, Ticket
from tickets.policy import Actor
from tickets.portal import tokens
from tickets.services import RUNNING_STATUSES, SLA_TIMER_REASON
from tickets.tasks import sla_sweep
from tickets.workflow import OPEN_STATUSES, PREVIOUS, SAME, TRANSITIONS, Action, EventKind, Status
from tiers.models import BusinessCalendar, SLAPolicy, Tier, TierMembership
from tiers.roles import Role
from tiers.selectors import clear_policy_cache

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CLIENTS = 50
CUSTOMERS = 6  # of the clients, those on the portal; the others are staff on the API
TICKETS = 20
SHORT = 8  # tickets on the seconds-long SLA (P1)
CALLS = 12  # per client
READ_FIRST = 0.4  # share of staff calls that read the ticket and send the version they saw

# Staff actions and how often a client picks each. Assigning and saving the diagnosis are allowed in most
# statuses: they keep writers colliding on open tickets while the other moves are refused.
STAFF_ACTIONS = {
    Action.TAKE: 10, Action.DIAGNOSE: 10, Action.START_RESOLVING: 8, Action.WAIT: 6, Action.RESUME: 6,
    Action.RESOLVE: 8, Action.ESCALATE: 6, Action.DE_ESCALATE: 6, Action.REOPEN: 5, Action.CLOSE: 3,
    Action.COMMENT: 12, Action.ASSIGN: 10,
}
PORTAL_ACTIONS = {"reply": 6, "confirm": 1, "not-fixed": 2}
URL_NAMES = {Action.START_RESOLVING: "start-resolving", Action.DE_ESCALATE: "de-escalate"}
DIAGNOSIS = {"affected_item": "Dock TB3", "steps_before": "Monthly updates", "findings": "Driver regression"}

# The event each action writes (read from the table, so the check follows the table), and the events that are
# a change of the ticket (a new version) rather than a note of the SLA timer.
ACTION_OF = {transition.event: action for (_status, action), transition in TRANSITIONS.items()}
TIMER_EVENTS = {EventKind.SLA_WARNING, EventKind.SLA_BREACHED}
# A suggestion used is checked like an action but changes nothing on the ticket (services.suggestion_record).
UNVERSIONED = TIMER_EVENTS | {EventKind.CREATED, EventKind.REPEAT_LINKED, EventKind.SUGGESTION_USED}

SUCCESS = {"api": {200, 201}, "portal": {302}}
REFUSED_CODES = {"illegal_transition", "stale_version", "missing_fields"}


@dataclass
class Outcome:
    """One call a client made, and what came of it."""

    client: int
    seq: int
    ticket: int
    action: str
    user: str  # a staff username, or the requester's e-mail on the portal
    via: str  # "api" or "portal"
    status: int | None = None
    code: str = ""
    version: int | None = None  # the ticket's version in a successful API response
    comment_id: int | None = None
    body: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS[self.via]


@pytest.fixture
def short_deadlines(tiers):
    """P1 tickets on the 24×7 calendar with clocks of seconds: the sweep escalates them during the race."""
    SLAPolicy.objects.filter(priority="P1").update(
        calendar=BusinessCalendar.objects.get(always_open=True),
        response_time=timedelta(seconds=1),
        escalation_time=timedelta(seconds=2),
        resolution_time=timedelta(seconds=30),
    )
    clear_policy_cache()


@pytest.fixture
def crew(alice, bob, charlie, mona):
    """Two or three agents per tier and two managers."""
    return [alice, staff_user("alex", tier="L1"), staff_user("ann", tier="L1"), bob, staff_user("bea", tier="L2"),
            charlie, staff_user("chen", tier="L3"), mona, staff_user("mike", manager=True)]


@pytest.fixture
def racing_tickets(short_deadlines, mona):
    """Twenty tickets from different customers, spread over new, diagnosing, resolving and resolved."""
    manager = Actor.of_user(mona)
    tickets = []
    for n in range(TICKETS):
        ticket = make_ticket(requester_email=f"customer{n}@example.com", requester_name=f"Customer {n}",
                             subject=f"Race ticket {n}", priority="P1" if n < SHORT else "P3")
        if n % 4 >= 1:
            services.ticket_take(actor=manager, ticket_id=ticket.pk)
        if n % 4 >= 2:
            services.ticket_diagnose(actor=manager, ticket_id=ticket.pk, **DIAGNOSIS)
            services.ticket_start_resolving(actor=manager, ticket_id=ticket.pk)
        if n % 4 == 3:
            services.ticket_resolve(actor=manager, ticket_id=ticket.pk, summary="Rolled the driver back")
        tickets.append(Ticket.objects.select_related("requester").get(pk=ticket.pk))
    return tickets


def staff_payload(action: str, rng: random.Random, *, body: str, usernames: list[str], token: bool) -> dict:
    if action in (Action.DIAGNOSE, Action.RESOLVE):
        payload = dict(DIAGNOSIS)
        if action == Action.RESOLVE:
            payload["summary"] = "Rolled the driver back"
        return payload
    if action in (Action.ESCALATE, Action.DE_ESCALATE, Action.REOPEN, Action.WAIT):
        payload = {"reason": f"{action} in the race"}
        if action == Action.DE_ESCALATE:
            payload["defect"] = rng.random() < 0.3
        return payload
    if action == Action.COMMENT:
        return {"body": body, "internal": rng.random() < 0.4}
    if action == Action.ASSIGN:
        return {"assignee": rng.choice(usernames)}
    if action == Action.CLOSE and token and rng.random() < 0.5:
        return {"csat": rng.randint(1, 5)}  # an integration may pass the customer's rating
    return {}


def staff_client(number: int, user, tickets: list[Ticket], usernames: list[str], managers: set[str]):
    """A staff client: CALLS actions on random tickets through the API, every other client with a token."""
    token = number % 2 == 0
    api = APIClient()
    if token:
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    else:
        api.force_login(user)
    rng = random.Random(f"staff/{number}")
    hot = [5 if n % 4 == 0 else 1 for n in range(len(tickets))]  # five tickets draw half of the fire

    def run() -> list[Outcome]:
        outcomes = []
        for seq in range(CALLS):
            ticket = rng.choices(tickets, hot)[0]
            action = rng.choices(list(STAFF_ACTIONS), list(STAFF_ACTIONS.values()))[0]
            outcome = Outcome(number, seq, ticket.pk, action, user.username, "api")
            try:
                payload = staff_payload(action, rng, body=f"staff {number}-{seq}", usernames=usernames, token=token)
                outcome.body = payload.get("body", "")
                if rng.random() < READ_FIRST:
                    read = api.get(f"/api/v1/tickets/{ticket.pk}/")
                    if read.status_code != 200:
                        outcome.status, outcome.error = read.status_code, f"read: {read.content[:200]!r}"
                        outcomes.append(outcome)
                        continue
                    payload["version"] = read.json()["version"]
                path = "comments" if action == Action.COMMENT else URL_NAMES.get(action, action)
                response = api.post(f"/api/v1/tickets/{ticket.pk}/{path}/", payload, format="json")
                outcome.status = response.status_code
                body = response.json()
                if outcome.succeeded:
                    outcome.comment_id = body["id"] if action == Action.COMMENT else None
                    outcome.version = None if action == Action.COMMENT else body["version"]
                else:
                    outcome.code = body.get("code", "")
                    if not refusal_expected(outcome, managers):
                        outcome.error = str(body)
            except Exception:  # a crash is an outcome the assertions report
                outcome.error = traceback.format_exc()
            outcomes.append(outcome)
        return outcomes

    return run


def refusal_expected(outcome: Outcome, managers: set[str]) -> bool:
    """Whether a refused staff call was refused for a reason a race explains."""
    if outcome.status == 409:
        return outcome.code in REFUSED_CODES
    if outcome.status == 403:  # the ticket moved to a tier this agent does not work on
        return outcome.code == "forbidden" and outcome.user not in managers
    if outcome.status == 400:  # the assignee does not work on the tier the ticket has moved to
        return outcome.code == "invalid" and outcome.action == Action.ASSIGN
    return False


def portal_client(number: int, tickets: list[Ticket]):
    """A customer client: replies, confirmations and "not fixed" through tracking links."""
    web = Client()
    rng = random.Random(f"portal/{number}")
    links = {ticket.pk: tokens.tracking_path(ticket) for ticket in tickets}

    def run() -> list[Outcome]:
        outcomes = []
        for seq in range(CALLS):
            ticket = rng.choice(tickets)
            action = rng.choices(list(PORTAL_ACTIONS), list(PORTAL_ACTIONS.values()))[0]
            outcome = Outcome(number, seq, ticket.pk, action, ticket.requester.email, "portal")
            data = {"reply": {"body": f"portal {number}-{seq}"}, "confirm": {"rating": rng.randint(1, 5)},
                    "not-fixed": {"reason": "Still broken"}}[action]
            outcome.body = data.get("body", "")
            try:
                response = web.post(f"{links[ticket.pk]}{action}/", data)
                outcome.status = response.status_code
                if response.status_code not in (302, 409):
                    outcome.error = response.content[:300].decode(errors="replace")
            except Exception:
                outcome.error = traceback.format_exc()
            outcomes.append(outcome)
        return outcomes

    return run


def replay(events: list[Event], levels: dict, tiers_of: dict, user_ids: dict) -> tuple:
    """Play a ticket's events through the transition table. Returns (problems, state, {version: event}).

    `levels` gives each tier id its level, `tiers_of` each agent's tier ids, `user_ids` each username's id."""
    problems = []
    first, rest = events[0], events[1:]
    if (first.kind, first.from_status, first.to_status) != (EventKind.CREATED, "", Status.NEW):
        problems.append(f"first event is {first.kind} {first.from_status!r}→{first.to_status!r}, not created → new")
    state = {"status": first.to_status, "tier": first.to_tier_id, "assignee": None, "waiting_from": "",
             "version": 1}
    by_version = {}
    for event in rest:
        where = f"event {event.pk} ({event.kind}, {event.from_status}→{event.to_status})"
        if (event.from_status, event.from_tier_id) != (state["status"], state["tier"]):
            problems.append(f"{where} starts from {event.from_status}/{event.from_tier_id}, the ticket was "
                            f"{state['status']}/{state['tier']}")
        status = event.from_status
        if event.kind in TIMER_EVENTS or event.kind == EventKind.REPEAT_LINKED:
            if (event.to_status, event.to_tier_id) != (status, event.from_tier_id):
                problems.append(f"{where} changed the ticket")
            if event.kind in TIMER_EVENTS and (status not in RUNNING_STATUSES or event.actor_role != Role.SYSTEM):
                problems.append(f"{where} recorded by {event.actor_role} while {status}")
            continue
        action = ACTION_OF.get(event.kind)
        transition = TRANSITIONS.get((status, action))
        if transition is None or transition.event != event.kind:
            problems.append(f"{where}: ({status}, {action}) is not in the transition table")
            continue
        if transition.target == SAME:
            expected = status
        elif transition.target == PREVIOUS:
            expected = state["waiting_from"] or Status.DIAGNOSING
        else:
            expected = transition.target
        if event.to_status != expected:
            problems.append(f"{where} should end in {expected}")
        if levels.get(event.to_tier_id) != levels.get(event.from_tier_id, 0) + transition.tier_step:
            problems.append(f"{where} moved from tier {event.from_tier_id} to {event.to_tier_id}, "
                            f"step {transition.tier_step}")
        if event.actor_role not in transition.actors and event.actor_role != Role.INTEGRATION:
            problems.append(f"{where} made by {event.actor_role}, not allowed")
        agent_tiers = tiers_of.get(event.actor_id)
        if agent_tiers is not None and event.from_tier_id not in agent_tiers:
            problems.append(f"{where} made by an agent of tiers {sorted(agent_tiers)}")
        if event.actor_role == Role.SYSTEM and event.kind == EventKind.ESCALATED and (
                status not in RUNNING_STATUSES or event.reason != SLA_TIMER_REASON):
            problems.append(f"{where}: the sweep escalated a ticket that was {status}")
        if event.kind == EventKind.WAITING:
            state["waiting_from"] = status
        elif event.kind in (EventKind.RESUMED, EventKind.ESCALATED, EventKind.DE_ESCALATED):
            state["waiting_from"] = ""
        if event.kind == EventKind.TAKEN:
            state["assignee"] = event.actor_id
        elif event.kind == EventKind.ASSIGNED:
            state["assignee"] = user_ids[event.data["assignee"]]
        elif event.kind in (EventKind.ESCALATED, EventKind.DE_ESCALATED):
            state["assignee"] = None
        state["status"], state["tier"] = event.to_status, event.to_tier_id
        if event.kind not in UNVERSIONED:
            state["version"] += 1
            by_version[state["version"]] = event
    return problems, state, by_version


def test_fifty_racing_clients_leave_every_ticket_on_a_valid_path(racing_tickets, crew, settings):
    # The portal's per-address limit would refuse the customers (one test client address) within seconds.
    settings.PORTAL_ACTION_RATE = "100000/m"
    usernames = [user.username for user in crew]
    managers = {user.username for user in crew if user.username in ("mona", "mike")}
    clients = [portal_client(n, racing_tickets) for n in range(CUSTOMERS)]
    clients += [staff_client(n, crew[n % len(crew)], racing_tickets, usernames, managers)
                for n in range(CUSTOMERS, CLIENTS)]

    remaining = [len(clients)]
    lock, finished = threading.Lock(), threading.Event()
    sweeps = []

    def client_call(run):
        def call():
            try:
                return run()
            finally:
                with lock:
                    remaining[0] -= 1
                    if not remaining[0]:
                        finished.set()
        return call

    def sweeper():
        # The beat's task, as often as it can run, until the clients are done.
        try:
            while not finished.is_set():
                sweeps.append(sla_sweep())
                finished.wait(0.05)
        except Exception:
            return traceback.format_exc()
        return None

    results = race(*[client_call(run) for run in clients], sweeper)
    *client_results, sweep_crash = results
    assert sweep_crash is None, sweep_crash
    assert all(isinstance(result, list) for result in client_results), client_results
    outcomes = [outcome for result in client_results for outcome in result]
    assert len(outcomes) == CLIENTS * CALLS

    crashes = [o for o in outcomes if o.error]
    assert not crashes, "\n".join(f"{o.via} {o.action} on {o.ticket} by {o.user}: {o.status} {o.error}"
                                  for o in crashes[:5])

    levels = dict(Tier.objects.values_list("pk", "level"))
    user_ids = {user.username: user.pk for user in get_user_model().objects.all()}
    tiers_of = defaultdict(set)  # the agents' tiers (managers act on every tier)
    for user_id, tier_id in TierMembership.objects.exclude(user__username__in=managers).values_list("user_id",
                                                                                                  "tier_id"):
        tiers_of[user_id].add(tier_id)
    problems = []
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in racing_tickets]).order_by("pk"):
        events = list(Event.objects.filter(ticket=ticket).order_by("id"))
        found, state, by_version = replay(events, levels, tiers_of, user_ids)
        problems += [f"ticket {ticket.pk}: {problem}" for problem in found]
        last = events[-1]
        final = (ticket.status, ticket.tier_id, ticket.assignee_id, ticket.version, ticket.waiting_from)
        replayed = (state["status"], state["tier"], state["assignee"], state["version"], state["waiting_from"])
        if final != replayed or (ticket.status, ticket.tier_id) != (last.to_status, last.to_tier_id):
            problems.append(f"ticket {ticket.pk} is {final}, its events say {replayed}")

        # Every successful API action is the event of its version: none missing, none returned twice.
        mine = [o for o in outcomes if o.ticket == ticket.pk and o.succeeded and o.version is not None]
        versions = Counter(o.version for o in mine)
        problems += [f"ticket {ticket.pk}: version {v} returned {n} times" for v, n in versions.items() if n > 1]
        for outcome in mine:
            event = by_version.get(outcome.version)
            transition = TRANSITIONS.get((event.from_status, outcome.action)) if event else None
            if transition is None or event.kind != transition.event or event.actor_id != user_ids[outcome.user]:
                problems.append(f"ticket {ticket.pk}: {outcome.user}'s {outcome.action} answered version "
                                f"{outcome.version}, whose event is {event and (event.kind, event.actor_id)}")
        per_client = defaultdict(list)
        for outcome in sorted(mine, key=lambda o: (o.client, o.seq)):
            per_client[outcome.client].append(outcome.version)
        for client, seen in per_client.items():
            if seen != sorted(set(seen)):
                problems.append(f"ticket {ticket.pk}: client {client} saw versions {seen}")

    # Every comment whose call succeeded is there exactly once; a refused one left nothing behind.
    commented = Counter(
        Event.objects.filter(kind=EventKind.COMMENTED, ticket__in=racing_tickets).values_list("data__comment_id",
                                                                                             flat=True))
    for outcome in outcomes:
        if outcome.action not in (Action.COMMENT, "reply"):
            continue
        stored = list(Comment.objects.filter(body=outcome.body).values_list("pk", "ticket_id"))
        if not outcome.succeeded:
            if stored:
                problems.append(f"refused comment {outcome.body!r} was stored")
            continue
        if len(stored) != 1 or stored[0][1] != outcome.ticket:
            problems.append(f"comment {outcome.body!r} stored as {stored}")
        elif commented[stored[0][0]] != 1 or (outcome.comment_id not in (None, stored[0][0])):
            problems.append(f"comment {outcome.body!r}: {commented[stored[0][0]]} events")
    assert not problems, "\n".join(problems[:30])

    # The open-ticket counts kept as tickets move equal a count of the tickets.
    counted = Counter(Ticket.objects.filter(status__in=OPEN_STATUSES).values_list("tier_id", "status"))
    assert backlog.counts() == dict(counted)

    # The race did race: stale versions and illegal moves were refused, the sweep escalated, and the main
    # actions each got through at least once.
    codes = Counter(o.code for o in outcomes if not o.succeeded)
    assert codes["stale_version"] and codes["illegal_transition"], codes
    assert Event.objects.filter(kind=EventKind.ESCALATED, actor_role=Role.SYSTEM).exists(), sweeps[-3:]
    succeeded = {o.action for o in outcomes if o.succeeded}
    assert {Action.TAKE, Action.COMMENT, Action.ESCALATE, Action.RESOLVE, Action.ASSIGN, "reply"} <= succeeded, \
        succeeded


def test_an_action_answers_the_version_it_wrote_when_another_writer_follows_at_once(alice, mona, monkeypatch):
    """The answer to an action is the ticket as that action left it, even if a racing writer commits right
    after it: a second writer is let loose between the change and the reading of the answer."""
    ticket = make_ticket()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=alice)[0].key}")
    answer_with = TicketViewSet.ticket_response
    followers = []

    def with_a_writer_right_behind(view, changed, *args, **kwargs):
        def note():
            try:
                services.comment_add(actor=Actor.of_user(mona), ticket_id=ticket.pk, body="Right behind you")
            finally:
                connection.close()

        follower = threading.Thread(target=note)
        follower.start()
        follower.join(timeout=1)  # done at once unless the ticket is still locked by the change being answered
        followers.append(follower)
        return answer_with(view, changed, *args, **kwargs)

    monkeypatch.setattr(TicketViewSet, "ticket_response", with_a_writer_right_behind)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/take/", {"version": 1}, format="json")
    followers[0].join(timeout=10)

    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["status"]) == (2, Status.DIAGNOSING)
    kinds = list(Event.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.TAKEN, EventKind.COMMENTED]
    assert Ticket.objects.get(pk=ticket.pk).version == 3

