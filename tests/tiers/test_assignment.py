"""Automatic assignment within a tier: round-robin, least loaded, skills, away agents, escalation, bursts.

Tickets are created and escalated through the services; a tier's strategy is set as a manager sets it in the
admin. The last tests race 200 creations on PostgreSQL, each thread with its own connection.
"""
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from notifications.handlers import plan
from tests.factories import CategoryFactory, make_ticket, staff_user
from tickets import escalation, services
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tickets.workflow import EventKind, Status
from tiers.models import Assignment, BusinessCalendar, SLAPolicy, StaffProfile, Tier, TierMembership
from tiers.selectors import clear_policy_cache

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def configure(code: str, assignment: str, *, match_skills: bool = False) -> Tier:
    """Set a tier's strategy, as a manager does in the admin (the saved tier is read afresh at once)."""
    tier = Tier.objects.get(code=code)
    tier.assignment, tier.match_skills = assignment, match_skills
    tier.save(update_fields=["assignment", "match_skills"])
    clear_policy_cache()
    return tier


def agents(count: int, tier: str = "L1", prefix: str = "agent"):
    return [staff_user(f"{prefix}{n}", tier=tier) for n in range(1, count + 1)]


def assignees(tickets) -> list[str]:
    by_id = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("pk", "assignee__username"))
    return [by_id[t.pk] for t in tickets]


def skills(user, *categories) -> None:
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.skills.set(categories)


def away(user) -> None:
    StaffProfile.objects.update_or_create(user=user, defaults={"away": True})


def open_load(user) -> int:
    return Ticket.objects.filter(assignee=user, status__in=[Status.NEW, Status.DIAGNOSING]).count()


# --- strategies ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tier_with_assignment_off_leaves_tickets_in_the_queue(tiers):
    agents(2)
    ticket = make_ticket()
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert not Event.objects.filter(ticket=ticket, kind=EventKind.ASSIGNED).exists()
    assert Tier.objects.get(code="L1").assignment == Assignment.OFF  # the default


@pytest.mark.django_db
def test_round_robin_walks_the_agents_in_a_stable_order_and_wraps(tiers):
    agents(3)
    configure("L1", Assignment.ROUND_ROBIN)
    tickets = [make_ticket() for _ in range(7)]
    assert assignees(tickets) == ["agent1", "agent2", "agent3", "agent1", "agent2", "agent3", "agent1"]


@pytest.mark.django_db
def test_round_robin_ignores_load_and_continues_after_the_pointer(tiers):
    one, two, _three = agents(3)
    configure("L1", Assignment.ROUND_ROBIN)
    first = make_ticket()
    Tier.objects.filter(code="L1").update(last_assigned=two)  # as if agent2 got the last one
    later = [make_ticket() for _ in range(2)]
    assert assignees([first, *later]) == ["agent1", "agent3", "agent1"]
    assert open_load(one) == 2


@pytest.mark.django_db
def test_least_loaded_gives_the_ticket_to_the_agent_with_fewest_open_tickets(tiers, as_mona):
    one, two, three = agents(3)
    for agent, count in ((one, 3), (two, 1), (three, 2)):
        for _ in range(count):
            services.ticket_take(actor=Actor.of_user(agent), ticket_id=make_ticket().pk)
    # Resolved tickets are not load: agent3 finished two of theirs, agent2 finished nothing.
    for ticket in Ticket.objects.filter(assignee=three):
        services.ticket_resolve(actor=Actor.of_user(three), ticket_id=ticket.pk, summary="Fixed",
                                affected_item="x", steps_before="y", findings="z")
    configure("L1", Assignment.LEAST_LOADED)
    first = make_ticket()
    assert assignees([first]) == ["agent3"]  # 0 open
    second = make_ticket()
    assert assignees([second]) == ["agent2"]  # agent2 and agent3 have 1 each; agent2 has never been assigned


@pytest.mark.django_db
def test_least_loaded_ties_go_to_the_agent_assigned_longest_ago(tiers, as_mona, mona):
    agents(2)
    configure("L1", Assignment.LEAST_LOADED)
    first = make_ticket()
    assert assignees([first]) == ["agent1"]  # equal loads, neither assigned yet: the lower id
    # The manager takes the ticket over: both agents are at 0 again, agent1 was assigned more recently.
    services.ticket_assign(actor=as_mona, ticket_id=first.pk, assignee=mona)
    second = make_ticket()
    assert assignees([second]) == ["agent2"]


# --- who is eligible ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_skills_restrict_the_choice_to_matching_agents(tiers):
    network, hardware, security = (CategoryFactory(slug=s, name=s) for s in ("network", "hardware", "security"))
    one, two = agents(2)
    skills(one, network)
    skills(two, hardware, network)
    configure("L1", Assignment.LEAST_LOADED, match_skills=True)
    made = [make_ticket(category=hardware, requester_email=f"h{n}@example.com") for n in range(2)]
    # agent2 is the only one who handles hardware, even with the higher load.
    assert assignees(made) == ["agent2", "agent2"]
    assert assignees([make_ticket(category=network, requester_email="n@example.com")]) == ["agent1"]
    # No category: the skills do not apply, the least loaded member gets it.
    assert assignees([make_ticket(requester_email="x@example.com")]) == ["agent1"]
    # Nobody handles security: the ticket waits in the queue, unassigned, with no event.
    nobody = make_ticket(category=security, requester_email="s@example.com")
    assert assignees([nobody]) == [None]
    assert not Event.objects.filter(ticket=nobody, kind=EventKind.ASSIGNED).exists()


@pytest.mark.django_db
def test_without_match_skills_the_skills_are_ignored(tiers):
    network = CategoryFactory(slug="network", name="network")
    one, _two = agents(2)
    skills(one, network)
    configure("L1", Assignment.ROUND_ROBIN)
    made = [make_ticket(category=network) for _ in range(2)]
    assert assignees(made) == ["agent1", "agent2"]


@pytest.mark.django_db
def test_away_agents_are_skipped(tiers):
    _one, two, _three = agents(3)
    away(two)
    configure("L1", Assignment.ROUND_ROBIN)
    assert assignees([make_ticket() for _ in range(3)]) == ["agent1", "agent3", "agent1"]
    configure("L1", Assignment.LEAST_LOADED)
    assert "agent2" not in assignees([make_ticket() for _ in range(4)])


@pytest.mark.django_db
def test_only_active_staff_members_of_the_tier_are_ever_chosen(tiers, bob, charlie, mona):
    from django.contrib.auth import get_user_model

    alex = staff_user("alex", tier="L1")
    gone = staff_user("gone", tier="L1")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    # A member with no staff role (not in the agents or managers group) cannot act on the tier.
    outsider = get_user_model().objects.create_user(username="outsider", password="pw")
    TierMembership.objects.create(user=outsider, tier=Tier.objects.get(code="L1"))
    for code in ("L1", "L2", "L3"):
        configure(code, Assignment.LEAST_LOADED)
    # bob (L2), charlie (L3) and mona (manager, no membership) have no tickets at all, alex gets busier each time.
    assert set(assignees([make_ticket() for _ in range(5)])) == {"alex"}
    assert open_load(alex) == 5


@pytest.mark.django_db
def test_nobody_eligible_leaves_the_ticket_unassigned_without_an_event(tiers):
    (only,) = agents(1)
    away(only)
    configure("L1", Assignment.LEAST_LOADED)
    ticket = make_ticket()
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.assignee, stored.status, stored.version) == (None, Status.NEW, 1)
    assert list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [EventKind.CREATED]
    assert Tier.objects.get(code="L1").last_assigned is None


# --- the record ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_assignment_is_an_assigned_event_by_the_system_that_notifies_the_agent(tiers):
    (agent,) = agents(1)
    configure("L1", Assignment.ROUND_ROBIN)
    ticket = make_ticket()
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.assignee, stored.status, stored.version) == (agent, Status.NEW, 2)
    assert stored.first_response_at is None  # the system is not a response to the customer
    event = Event.objects.get(ticket=ticket, kind=EventKind.ASSIGNED)
    assert (event.actor_role, event.actor, event.actor_requester) == ("system", None, None)
    assert event.data == {"assignee": "agent1", "automatic": True}
    assert (event.from_tier.code, event.to_tier.code, event.to_status) == ("L1", "L1", Status.NEW)
    assert [(mail.recipient, mail.template) for mail in plan(event)] == [("agent1@example.com", "agent_assigned")]


# --- escalation ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manual_escalation_is_assigned_in_the_higher_tier(tiers, as_alice, bob):
    staff_user("bella", tier="L2")
    configure("L2", Assignment.ROUND_ROBIN)
    ticket = make_ticket()
    assert assignees([ticket]) == [None]  # L1 does not assign
    services.ticket_take(actor=as_alice, ticket_id=ticket.pk)
    services.ticket_escalate(actor=as_alice, ticket_id=ticket.pk, reason="Needs the server team")
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.tier.code, stored.status, stored.assignee) == ("L2", Status.NEW, bob)
    assert stored.version == 4  # created, taken, escalated, assigned
    kinds = list(Event.objects.filter(ticket=ticket).order_by("id").values_list("kind", "actor_role"))
    assert kinds[-2:] == [(EventKind.ESCALATED, "agent"), (EventKind.ASSIGNED, "system")]


@pytest.mark.django_db
def test_the_sla_sweep_assigns_what_it_escalates_in_one_batch(tiers):
    SLAPolicy.objects.filter(priority="P3").update(
        calendar=BusinessCalendar.objects.get(always_open=True), response_time=1 * H, escalation_time=2 * H,
        resolution_time=10 * H,
    )
    l2 = agents(2, tier="L2", prefix="second")
    configure("L2", Assignment.LEAST_LOADED)
    with time_machine.travel(T0, tick=False):
        made = [make_ticket(requester_email=f"c{n}@example.com") for n in range(5)]
    with time_machine.travel(T0 + 2 * H, tick=False):
        counts = escalation.sweep()
    assert counts["escalated"] == 5
    # The whole batch is one transaction: each choice sees the ones before it.
    assert sorted(Counter(assignees(made)).values()) == [2, 3]
    assert all(open_load(agent) >= 2 for agent in l2)
    for ticket in made:
        events = list(Event.objects.filter(ticket=ticket).order_by("id").values_list("kind", "actor_role"))
        assert events[-2:] == [(EventKind.ESCALATED, "system"), (EventKind.ASSIGNED, "system")]
        assert Ticket.objects.get(pk=ticket.pk).tier.code == "L2"


@pytest.mark.django_db
def test_de_escalation_does_not_assign(tiers, as_bob):
    agents(2)
    ticket = make_ticket()
    configure("L1", Assignment.ROUND_ROBIN)
    services.ticket_escalate(actor=Actor.system(), ticket_id=ticket.pk, reason="sla_timer")
    services.ticket_de_escalate(actor=as_bob, ticket_id=ticket.pk, reason="An L1 fix")
    assert assignees([ticket]) == [None]


# --- the away switch ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_desk_away_switch_shows_and_sets_the_state(client, alice):
    client.force_login(alice)
    page = client.get(reverse("desk:queue")).content.decode()
    assert 'id="away-form"' in page and "Available for automatic assignment" in page
    response = client.post(reverse("desk:away"), {"away": "1", "next": "/desk/?queue=mine"})
    assert (response.status_code, response["Location"]) == (302, "/desk/?queue=mine")
    assert StaffProfile.objects.get(user=alice).away is True
    assert "Away: no automatic assignments" in client.get(reverse("desk:queue")).content.decode()
    client.post(reverse("desk:away"), {"away": "0"})
    assert StaffProfile.objects.get(user=alice).away is False


@pytest.mark.django_db
def test_the_away_switch_refuses_bad_input_other_sites_and_non_staff(client, alice):
    client.force_login(alice)
    assert client.get(reverse("desk:away")).status_code == 405
    response = client.post(reverse("desk:away"), {"away": "maybe", "next": "https://evil.example/"})
    assert (response.status_code, response["Location"]) == (302, reverse("desk:queue"))
    assert not StaffProfile.objects.filter(user=alice, away=True).exists()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user(username="visitor", password="pw"))
    assert client.post(reverse("desk:away"), {"away": "1"}).status_code == 403


@pytest.mark.django_db
def test_the_api_shows_and_changes_the_callers_away_state(client, alice):
    client.force_login(alice)
    url = reverse("api:me")
    assert client.get(url).json() == {"username": "alice", "away": False}
    changed = client.patch(url, {"away": True}, content_type="application/json")
    assert (changed.status_code, changed.json()) == (200, {"username": "alice", "away": True})
    assert StaffProfile.objects.get(user=alice).away is True
    refused = client.patch(url, {"away": "perhaps"}, content_type="application/json")
    assert refused.status_code == 400
    assert StaffProfile.objects.get(user=alice).away is True


@pytest.mark.django_db
def test_managers_edit_the_strategy_and_the_skills_in_the_admin(client, mona, alice):
    client.force_login(mona)
    tier = Tier.objects.get(code="L1")
    page = client.get(reverse("admin:tiers_tier_change", args=[tier.pk])).content.decode()
    assert 'name="assignment"' in page and 'name="match_skills"' in page
    network = CategoryFactory(slug="network", name="network")
    response = client.post(reverse("admin:tiers_staffprofile_add"),
                           {"user": alice.pk, "skills": [network.pk], "away": "on", "language": ""})
    assert response.status_code == 302
    profile = StaffProfile.objects.get(user=alice)
    assert (profile.away, list(profile.skills.all())) == (True, [network])


# --- bursts on PostgreSQL -----------------------------------------------------------------------------------

BURST = 200
THREADS = 20  # each with its own connection; 200 at once would exhaust PostgreSQL's connection limit


def _burst(count: int, threads: int) -> list:
    """Create `count` tickets from `threads` threads released together, each thread on its own connection."""
    barrier = threading.Barrier(threads)
    created, failures = [], []
    lock = threading.Lock()

    def run(worker: int):
        try:
            barrier.wait(timeout=30)
            for n in range(worker, count, threads):
                ticket = make_ticket(requester_email=f"burst{n}@example.com", subject=f"Burst ticket {n}")
                with lock:
                    created.append(ticket)
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not failures, failures
    return created


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("strategy", [Assignment.LEAST_LOADED, Assignment.ROUND_ROBIN])
def test_a_burst_of_200_tickets_is_spread_evenly_with_no_agent_touching_them(strategy):
    team = agents(5)
    configure("L1", strategy)
    created = _burst(BURST, THREADS)
    assert len(created) == BURST
    tickets = Ticket.objects.filter(pk__in=[t.pk for t in created])
    assert not tickets.filter(assignee=None).exists()
    loads = Counter(tickets.values_list("assignee__username", flat=True))
    assert set(loads) == {agent.username for agent in team}
    assert max(loads.values()) - min(loads.values()) <= 1, loads
    # Every assignment is the system's, exactly one per ticket; the agents did nothing.
    assigned = Event.objects.filter(ticket__in=tickets, kind=EventKind.ASSIGNED)
    assert assigned.count() == BURST
    assert set(assigned.values_list("actor_role", flat=True)) == {"system"}
    assert not Event.objects.filter(actor__in=team).exists()
    assert set(tickets.values_list("version", flat=True)) == {2}
    if strategy == Assignment.ROUND_ROBIN:
        # The choices were made one at a time under the tier's lock, so in the order they were recorded they
        # walk the agents in turn: no agent got a second ticket before every other got one.
        order = list(assigned.order_by("id").values_list("data__assignee", flat=True))
        names = [agent.username for agent in team]
        start = names.index(order[0])
        assert order == [names[(start + n) % len(names)] for n in range(BURST)]
