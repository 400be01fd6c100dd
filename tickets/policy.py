"""Who sees which tickets and who may do what to them — decided here only.

Every page, API view, export and task asks these functions, so a list can
never show what a detail page refuses, and a view can never allow what the
service refuses.
"""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from tickets.exceptions import TicketError
from tickets.models import Requester, Ticket
from tickets.workflow import Action, Transition, actions_from, transition_for
from tiers.models import Tier
from tiers.roles import Role, staff_role, tier_ids_of
from tiers.selectors import tier_above, tier_below, tier_by_id


@dataclass(frozen=True)
class Actor:
    """Who is making a change: a staff user, an integration, a customer or the system."""

    role: Role
    user: object | None = None
    requester: Requester | None = None

    @classmethod
    def of_user(cls, user, *, integration: bool = False) -> "Actor":
        """The actor for a signed-in user; `integration` marks a call made with an API token."""
        if staff_role(user) is None:
            raise TicketError(TicketError.FORBIDDEN, _("Only agents and managers can change tickets."))
        return cls(Role.INTEGRATION if integration else staff_role(user), user=user)

    @classmethod
    def system(cls) -> "Actor":
        return cls(Role.SYSTEM)

    @classmethod
    def customer(cls, requester: Requester) -> "Actor":
        return cls(Role.CUSTOMER, requester=requester)

    @property
    def acting_role(self) -> Role | None:
        """The role permissions are checked against: an integration acts with its user's role."""
        if self.role == Role.INTEGRATION:
            return staff_role(self.user)
        return self.role

    @property
    def is_staff(self) -> bool:
        return self.acting_role in (Role.AGENT, Role.MANAGER)


def sees_tickets(user) -> bool:
    """Whether this user may read tickets at all: agents read all tiers, managers everything."""
    return staff_role(user) is not None


def tickets_visible_to(user):
    """Every ticket this user may read."""
    return Ticket.objects.all() if sees_tickets(user) else Ticket.objects.none()


def refusal(actor: Actor, ticket: Ticket, transition: Transition, action: str):
    """Why this actor may not make this transition on this ticket, or None when they may."""
    role = actor.acting_role
    if role not in transition.actors:
        return _("Your role (%(role)s) does not allow “%(action)s” on this ticket.") % {
            "role": Role(role).label if role else _("none"),
            "action": Action(action).label,
        }
    if role == Role.AGENT and ticket.tier_id not in tier_ids_of(actor.user):
        return _("Only agents of tier %(tier)s or a manager can change this ticket.") % {"tier": ticket.tier}
    if role == Role.CUSTOMER and (actor.requester is None or ticket.requester_id != actor.requester.pk):
        return _("This is not your ticket.")
    return None


def target_tier(ticket: Ticket, transition: Transition) -> Tier | None:
    """The tier the ticket is at after `transition`; None if there is no tier in that direction."""
    if transition.tier_step > 0:
        return tier_above(ticket.tier_id)
    if transition.tier_step < 0:
        return tier_below(ticket.tier_id)
    return tier_by_id(ticket.tier_id)


def can(actor: Actor, action: str, ticket: Ticket) -> bool:
    """Whether the workflow and the actor's role and tier allow `action` on `ticket` now."""
    transition = transition_for(ticket.status, action)
    return (
        transition is not None
        and refusal(actor, ticket, transition, action) is None
        and target_tier(ticket, transition) is not None
    )


def available_actions(actor: Actor, ticket: Ticket) -> list[str]:
    """The actions this actor may take on this ticket now (what a UI should offer)."""
    return [action for action in actions_from(ticket.status) if can(actor, action, ticket)]
