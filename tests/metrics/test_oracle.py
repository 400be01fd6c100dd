"""An independent oracle: random ticket histories made through the services, every metric recomputed in
plain Python from tickets and events following PRODUCT.md's words, compared with the API's answer."""
import os
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from metrics import rollups
from metrics.rollups import Plan
from tests.factories import CategoryFactory, make_ticket, staff_user
from tickets import services
from tickets.exceptions import TicketError
from tickets.models import Event, Ticket
from tickets.policy import Actor
from tickets.workflow import OPEN_STATUSES
from tiers.selectors import sla_policy_for
from tiers.sla import business_seconds_between

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday morning, before office hours
TICKETS = int(os.environ.get("ORACLE_TICKETS", "2000"))


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def histories(seed=7, count=TICKETS):
    rng = random.Random(seed)
    agents = {"L1": staff_user("a1", tier="L1"), "L2": staff_user("a2", tier="L2"), "L3": staff_user("a3", tier="L3")}
    manager = Actor.of_user(staff_user("boss", manager=True))
    categories = [CategoryFactory(name=n, slug=n.lower()) for n in ("Network", "Printing", "Access")]
    emails = [f"user{n}@example.com" for n in range(40)]
    clock = START
    for n in range(count):
        clock += timedelta(minutes=rng.randint(5, 240))
        moment = clock

        def at(minutes):
            nonlocal moment
            moment += timedelta(minutes=minutes)
            return time_machine.travel(moment, tick=False)

        with at(0):
            ticket = make_ticket(subject=f"Problem {n}", requester_email=rng.choice(emails),
                                 category=rng.choice(categories), priority=rng.choice(["P1", "P2", "P3", "P3", "P4"]))
        agent = lambda ticket=ticket: Actor.of_user(agents[Ticket.objects.get(pk=ticket.pk).tier.code])  # noqa: E731
        customer = Actor.customer(ticket.requester)

        def merged_away(ticket=ticket, minutes=None):
            """Merge the ticket into the requester's latest other open ticket, if there is one."""
            primary = (Ticket.objects.filter(requester=ticket.requester, status__in=OPEN_STATUSES,
                                             merged_into__isnull=True).exclude(pk=ticket.pk)
                       .order_by("-created_at").first())
            if primary is None:
                return False
            with at(minutes or rng.randint(1, 120)):
                services.ticket_merge(actor=manager, ticket_id=ticket.pk, into_id=primary.pk)
            return True

        try:
            if rng.random() < 0.06 and merged_away():
                continue  # a duplicate: merged into the requester's open ticket
            if rng.random() < 0.1:
                continue  # left new
            with at(rng.randint(1, 300)):
                services.ticket_take(actor=agent(), ticket_id=ticket.pk)
            if rng.random() < 0.3:
                with at(rng.randint(1, 200)):
                    services.ticket_escalate(actor=agent(), ticket_id=ticket.pk, reason="needs more")
                if rng.random() < 0.1:
                    with at(rng.randint(1, 100)):
                        services.ticket_de_escalate(actor=manager, ticket_id=ticket.pk, reason="back",
                                                    defect=rng.random() < 0.5)
                with at(rng.randint(1, 100)):
                    services.ticket_take(actor=agent(), ticket_id=ticket.pk)
                if rng.random() < 0.2:
                    with at(rng.randint(1, 200)):
                        services.ticket_escalate(actor=agent(), ticket_id=ticket.pk, reason="deeper")
                    with at(rng.randint(1, 100)):
                        services.ticket_take(actor=agent(), ticket_id=ticket.pk)
            if rng.random() < 0.2:
                with at(rng.randint(1, 60)):
                    services.ticket_wait(actor=agent(), ticket_id=ticket.pk, reason="?")
                with at(rng.randint(1, 600)):
                    services.comment_add(actor=customer, ticket_id=ticket.pk, body="answer")
            if rng.random() < 0.15:
                continue  # still diagnosing
            with at(rng.randint(1, 2000)):
                services.ticket_resolve(actor=agent(), ticket_id=ticket.pk, summary="fixed", affected_item="x",
                                        steps_before="y", findings="z")
            if rng.random() < 0.1:
                with at(rng.randint(1, 300)):
                    services.ticket_reopen(actor=customer, ticket_id=ticket.pk, reason="again")
                if rng.random() < 0.3 and merged_away():
                    continue  # reopened, then found to duplicate another open ticket: no resolution
                with at(rng.randint(1, 500)):
                    services.ticket_resolve(actor=agent(), ticket_id=ticket.pk, summary="fixed again")
            if rng.random() < 0.7:
                with at(rng.randint(1, 900)):
                    services.ticket_close(actor=customer, ticket_id=ticket.pk,
                                          csat=rng.choice([None, 1, 2, 3, 4, 5, 5]))
        except TicketError as exc:  # an unlucky random path is fine; the oracle reads what happened
            print("skipped step:", exc)


def oracle(start, end, *, tier=None):
    tickets = list(Ticket.objects.select_related("tier").all())
    if tier:
        tickets = [t for t in tickets if t.tier.code == tier]
    events = {}
    for e in Event.objects.order_by("at", "id"):
        events.setdefault(e.ticket_id, []).append(e)
    created = [t for t in tickets if start <= t.created_at < end]
    resolved = [t for t in tickets
                if t.status in ("resolved", "closed") and t.resolved_at and start <= t.resolved_at < end]
    kinds = lambda t: [e.kind for e in events.get(t.pk, [])]  # noqa: E731

    def div(a, b):
        return a / b if b else None

    ttr = [(t.resolved_at - t.created_at).total_seconds() for t in resolved]
    business = [business_seconds_between(t.created_at, t.resolved_at, sla_policy_for(t.tier_id, t.priority)[1])
                for t in resolved]
    responded = [t for t in created if t.first_response_at]
    reopens = sum(1 for t in tickets for e in events.get(t.pk, []) if e.kind == "reopened" and start <= e.at < end)
    repeats = sum(1 for t in created if t.repeat_of_id) + reopens
    never_escalated = [t for t in resolved if "escalated" not in kinds(t) and t.tier.code == "L1"]
    fcr = [
        t for t in never_escalated
        if "waiting" not in kinds(t) and "reopened" not in kinds(t)
        and not any(e.kind == "commented" and e.actor_role == "customer" and e.at < t.resolved_at
                    for e in events.get(t.pk, []))
    ]
    rated = [t for t in tickets if t.closed_at and start <= t.closed_at < end and t.csat_rating is not None]
    with_due = [t for t in resolved if t.resolution_due_at]
    responded_due = [t for t in responded if t.response_due_at]
    return {
        "created": len(created),
        "resolution_rate": div(sum(t.status in ("resolved", "closed") for t in created), len(created)),
        "time_to_resolve": {"median": percentile(ttr, .5), "p90": percentile(ttr, .9),
                            "mean": div(sum(ttr), len(ttr)), "business_median": percentile(business, .5)},
        "first_response": {"median": percentile([(t.first_response_at - t.created_at).total_seconds()
                                                 for t in responded], .5),
                           "p90": percentile([(t.first_response_at - t.created_at).total_seconds()
                                              for t in responded], .9)},
        "repeat_contacts": repeats,
        "repeat_contact_rate": div(repeats, len(created)),
        "flr_rate": div(len(never_escalated), len(resolved)),
        "fcr_rate": div(len(fcr), len(resolved)),
        "escalation_rate": div(sum("escalated" in kinds(t) for t in created), len(created)),
        "escalation_defects": sum(1 for t in tickets for e in events.get(t.pk, [])
                                  if e.kind == "de_escalated" and e.data.get("defect") and start <= e.at < end),
        "sla_compliance": {
            "resolution": div(sum(t.resolved_at <= t.resolution_due_at for t in with_due), len(with_due)),
            "response": div(sum(t.first_response_at <= t.response_due_at for t in responded_due),
                            len(responded_due)),
        },
        "csat": {"mean": div(sum(t.csat_rating for t in rated), len(rated)),
                 "share_satisfied": div(sum(t.csat_rating >= 4 for t in rated), len(rated)), "count": len(rated)},
    }


def assert_close(api, expected, path="summary"):
    if isinstance(expected, dict):
        for key, value in expected.items():
            assert_close(api[key], value, f"{path}.{key}")
    elif (expected is None or api is None
          or (isinstance(expected, int) and not isinstance(expected, bool) and "rate" not in path)):
        assert api == expected, path
    else:
        tolerance = 1.0 if any(k in path for k in ("time_to_resolve", "first_response")) else 1e-9
        assert abs(api - expected) <= tolerance, (path, api, expected)


def tier_escalation_oracle(start, end):
    """Per tier: of the tickets created in the period that were ever at the tier, the share escalated out of it."""
    visited, left = {}, {}
    for ticket in Ticket.objects.filter(created_at__gte=start, created_at__lt=end):
        events = list(Event.objects.filter(ticket=ticket).select_related("from_tier", "to_tier"))
        for code in {e.to_tier.code for e in events if e.to_tier and e.kind in ("created", "escalated",
                                                                                  "de_escalated")}:
            visited[code] = visited.get(code, 0) + 1
        for code in {e.from_tier.code for e in events if e.kind == "escalated"}:
            left[code] = left.get(code, 0) + 1
    return {code: (left.get(code, 0) / visited[code] if visited.get(code) else None) for code in ("L1", "L2", "L3")}


def test_every_metric_matches_the_oracle(mona):
    histories()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=mona).key}")
    last = Ticket.objects.order_by("-created_at").first().created_at
    periods = [(START, last + timedelta(days=30)), (START + timedelta(days=3), START + timedelta(days=10)),
               (START + timedelta(days=1), START + timedelta(days=2))]
    # First everything live, then with the closed days read from the daily rollups.
    for rolled_up in (False, True):
        if rolled_up:
            rollups.rebuild()
            assert all(Plan(start, end).uses_rollups for start, end in periods[:2])
        for start, end in periods:
            for tier in (None, "L1", "L2"):
                params = {"from": start.isoformat(), "to": end.isoformat(), **({"tier": tier} if tier else {})}
                answer = client.get("/api/v1/metrics/summary/", params).json()
                assert_close(answer, oracle(start, end, tier=tier))
                if (start, end, tier) == (*periods[0], None):  # the whole history: every metric is defined
                    assert None not in (answer["fcr_rate"], answer["time_to_resolve"]["business_median"],
                                        answer["csat"]["mean"], answer["sla_compliance"]["response"])
                    assert answer["repeat_contacts"] > 0 and answer["escalation_defects"] > 0
            by_tier = client.get("/api/v1/metrics/breakdown/", {"from": start.isoformat(), "to": end.isoformat(),
                                                                "by": "tier"}).json()
            expected = tier_escalation_oracle(start, end)
            for row in by_tier:
                assert_close(row["escalation_rate"], expected[row["key"]], f"escalation_rate.{row['key']}")
    assert Event.objects.filter(kind="reopened").exists() and Event.objects.filter(kind="escalated").exists()
    # Merges happened, a reopened ticket among the duplicates, and none of them counts as resolved.
    merged = Ticket.objects.filter(merged_into__isnull=False)
    assert merged.count() >= 10 and merged.filter(reopen_count__gt=0).exists()
    assert not merged.filter(resolved_at__isnull=False).exists()
    assert 0 < tier_escalation_oracle(*periods[0])["L2"] < 1
