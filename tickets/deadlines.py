"""SLA deadlines of a ticket, recomputed on every transition.

Three clocks run per ticket: first response and resolution from creation, and
the tier clock from the moment the ticket entered its tier (escalation at the
end of it). Each clock has a warning point at 80 % and a deadline. `waiting`
pauses every clock; on resume every point moves later by the working time
spent waiting. Which warnings and breaches were already recorded is kept in
`sla_flags`, and `sla_next_check_at` is the earliest point the sweep still has
to look at (NULL when nothing is pending: paused, resolved, closed).

Everything here is a pure function of the ticket's fields, the SLA policy and
its calendar; the services write what `clock_changes` returns.
"""
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from tickets.workflow import Status
from tiers.selectors import sla_policy_for
from tiers.sla import add_business_time, business_time_between

WARN_AT = 0.8


class Clock(enum.Enum):
    RESPONSE = "response"
    ESCALATION = "escalation"
    RESOLUTION = "resolution"

    @property
    def warned(self) -> int:
        return {Clock.RESPONSE: 1, Clock.ESCALATION: 4, Clock.RESOLUTION: 16}[self]

    @property
    def breached(self) -> int:
        return self.warned << 1


@dataclass(frozen=True)
class Point:
    clock: Clock
    breach: bool  # False: the 80 % warning

    @property
    def flag(self) -> int:
        return self.clock.breached if self.breach else self.clock.warned

    @property
    def field(self) -> str:
        return f"{self.clock.value}_{'due' if self.breach else 'warn'}_at"


CLOCK_LABELS = {
    Clock.RESPONSE.value: _("first response"),
    Clock.ESCALATION.value: _("time at tier"),
    Clock.RESOLUTION.value: _("resolution"),
}
POINTS = [Point(clock, breach) for clock in Clock for breach in (False, True)]
CLOCK_FIELDS = [point.field for point in POINTS]


def clock_changes(ticket, *, from_status: str, tier_changed: bool, now: datetime) -> dict:
    """Field updates for the clocks after a transition; `ticket` already carries the new status and tier."""
    status = ticket.status
    if status in (Status.RESOLVED, Status.CLOSED):
        return {"sla_next_check_at": None, "sla_paused_at": None}
    if status == Status.WAITING:
        if from_status == Status.WAITING:
            return {}
        return {"sla_paused_at": now, "sla_next_check_at": None}
    found = sla_policy_for(ticket.tier_id, ticket.priority)
    if found is None:
        return {**dict.fromkeys(CLOCK_FIELDS), "sla_next_check_at": None, "sla_paused_at": None}
    policy, calendar = found
    values = {name: getattr(ticket, name) for name in CLOCK_FIELDS}
    values.update(sla_flags=ticket.sla_flags, sla_paused=ticket.sla_paused, sla_paused_at=None)
    if from_status == Status.WAITING and ticket.sla_paused_at is not None:
        paused = max(business_time_between(ticket.sla_paused_at, now, calendar), timedelta(0))
        values["sla_paused"] = ticket.sla_paused + paused
        for name in CLOCK_FIELDS:
            if values[name] is not None:
                values[name] = add_business_time(values[name], paused, calendar)
    if not from_status or tier_changed or from_status == Status.RESOLVED:
        # Created, escalated, de-escalated or reopened: the tier clock restarts,
        # and the end-to-end clocks follow the (new) tier's policy.
        starts = {
            Clock.RESPONSE: (ticket.created_at, policy.response_time, values["sla_paused"]),
            Clock.RESOLUTION: (ticket.created_at, policy.resolution_time, values["sla_paused"]),
            Clock.ESCALATION: (now, policy.escalation_time, timedelta(0)),
        }
        for point in POINTS:
            start, length, paused = starts[point.clock]
            amount = (length if point.breach else length * WARN_AT) + paused
            moment = add_business_time(start, amount, calendar)
            values[point.field] = moment
            if moment > now:  # a point moved into the future can fire again
                values["sla_flags"] &= ~point.flag
    values["sla_next_check_at"] = next_check(values, responded=ticket.first_response_at is not None)
    return values


def next_check(values: dict, *, responded: bool) -> datetime | None:
    """The earliest warning or deadline not yet recorded (the response clock stops at the first response)."""
    pending = [
        values[point.field]
        for point in POINTS
        if values[point.field] is not None
        and not values["sla_flags"] & point.flag
        and not (responded and point.clock == Clock.RESPONSE)
    ]
    return min(pending, default=None)


def due_points(ticket, now: datetime) -> list[Point]:
    """Warnings and deadlines of an open, running ticket that are due now and not yet recorded."""
    responded = ticket.first_response_at is not None
    return [
        point
        for point in POINTS
        if getattr(ticket, point.field) is not None
        and getattr(ticket, point.field) <= now
        and not ticket.sla_flags & point.flag
        and not (responded and point.clock == Clock.RESPONSE)
    ]


def breaches(ticket, now: datetime) -> list[str]:
    """The clocks whose deadline this ticket missed (for display; the response clock stops at first response)."""
    missed = []
    ends = {
        Clock.RESPONSE: ticket.first_response_at,
        Clock.ESCALATION: None,
        Clock.RESOLUTION: ticket.resolved_at if ticket.status in (Status.RESOLVED, Status.CLOSED) else None,
    }
    for clock in Clock:
        due = getattr(ticket, f"{clock.value}_due_at")
        if clock == Clock.ESCALATION:
            if ticket.sla_flags & clock.breached:
                missed.append(clock.value)
            continue
        if due is not None and (ends[clock] or now) > due:
            missed.append(clock.value)
    return missed


def business_time_to_resolve(created_at: datetime, resolved_at: datetime, tier_id: int, priority: str) -> int | None:
    """Business time from creation to resolution in microseconds, in the calendar of the tier and priority's SLA
    policy (None without a policy)."""
    found = sla_policy_for(tier_id, priority)
    if found is None:
        return None
    return business_time_between(created_at, resolved_at, found[1]) // timedelta(microseconds=1)
