"""Automatic assignment within a tier: which agent gets a ticket that arrives in a tier's queue.

A tier chooses its strategy in the admin (`Tier.assignment`): off, round-robin, or least loaded. The services
call `pick_assignee` inside the transaction that creates a ticket or escalates it into the tier, and record the
choice as an `assigned` event by the system (`services._auto_assign`); this module only decides.

Eligible agents: active members of the tier (`TierMembership`) who can act on it (the agents group, the
managers group or a superuser — the same test as a manual assignment), not away (`StaffProfile.away`), and,
when the tier matches skills and the ticket has a category, with that category among their skills. A ticket
without a category skips the skills test: any eligible member may get it. When nobody is eligible the ticket
stays unassigned in the queue, with no event.

Race safety: the tier row is locked (``SELECT … FOR NO KEY UPDATE``) before the choice and stays locked until
the transaction commits, so concurrent arrivals in one tier choose one after another, and each sees the
assignments committed before it (PostgreSQL's READ COMMITTED takes a fresh snapshot per statement). The
lock is the weaker NO KEY one: every write that references the tier (a ticket, an event, in any transaction)
checks its foreign key with a KEY SHARE lock on the tier row, which a plain FOR UPDATE would make wait behind
the assignment; NO KEY UPDATE serialises only the assigners.
"""
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from tickets.models import Ticket
from tickets.workflow import OPEN_STATUSES
from tiers.models import Assignment, StaffProfile, Tier, TierMembership
from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP
from tiers.selectors import tier_by_id


def pick_assignee(ticket: Ticket, tier_id: int):
    """The agent of tier `tier_id` who gets `ticket` now, or None (assignment off, or nobody eligible).

    Must run inside the caller's transaction: it locks the tier row and moves the tier's round-robin
    pointer and the chosen membership's `last_assigned_at`, so the choice and the assignment commit together.
    """
    # The common case costs nothing: a tier that does not assign (per the briefly cached tiers, like every
    # SLA read) is neither queried nor locked, so creations in it never queue behind each other.
    if tier_by_id(tier_id).assignment == Assignment.OFF:
        return None
    tier = Tier.objects.select_for_update(no_key=True).only("assignment", "match_skills", "last_assigned")
    tier = tier.get(pk=tier_id)
    if tier.assignment == Assignment.OFF:
        return None
    members = eligible_memberships(tier, ticket)
    if tier.assignment == Assignment.ROUND_ROBIN:
        chosen = _round_robin(members, tier.last_assigned_id)
    else:
        chosen = _least_loaded(members)
    if chosen is None:
        return None
    Tier.objects.filter(pk=tier.pk).update(last_assigned=chosen.user_id)
    TierMembership.objects.filter(pk=chosen.pk).update(last_assigned_at=timezone.now())
    return chosen.user


def eligible_memberships(tier: Tier, ticket: Ticket):
    """The memberships of `tier` whose agents may get `ticket` by automatic assignment."""
    User = get_user_model()
    can_act = User.groups.through.objects.filter(
        user_id=OuterRef("user_id"), group__name__in=(AGENTS_GROUP, MANAGERS_GROUP)
    )
    away = StaffProfile.objects.filter(user_id=OuterRef("user_id"), away=True)
    members = (
        TierMembership.objects.filter(tier=tier, user__is_active=True)
        .filter(Q(user__is_superuser=True) | Exists(can_act))
        .exclude(Exists(away))
    )
    if tier.match_skills and ticket.category_id is not None:
        skilled = StaffProfile.skills.through.objects.filter(
            staffprofile__user_id=OuterRef("user_id"), category_id=ticket.category_id
        )
        members = members.filter(Exists(skilled))
    return members


def _round_robin(members, pointer: int | None):
    """The first eligible agent after the pointer in a stable order (user id), wrapping round to the first."""
    ordered = members.select_related("user").order_by("user_id")
    if pointer is not None:
        after = ordered.filter(user_id__gt=pointer).first()
        if after is not None:
            return after
    return ordered.first()


def _least_loaded(members):
    """The eligible agent with the fewest open tickets (in any tier); among equals the one whose last automatic
    assignment here is oldest (never first), then the lowest user id. One query: the load is a correlated count
    per agent over index ticket_assignee_status."""
    load = (
        Ticket.objects.filter(assignee_id=OuterRef("user_id"), status__in=OPEN_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        members.annotate(load=Coalesce(Subquery(load), Value(0)))
        .select_related("user")
        .order_by("load", F("last_assigned_at").asc(nulls_first=True), "user_id")
        .first()
    )
