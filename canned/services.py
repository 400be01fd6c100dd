"""The only code that writes canned replies: create, change and delete, with who may do which checked here.

Refusals are `TicketError`s like the ticket services' (the desk and the API map their codes to 400/403/404):
agents keep personal replies; tier-wide ones are the managers'.
"""
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from canned import placeholders
from canned.models import CannedReply
from canned.selectors import canned_replies_visible_to, may_manage
from tickets.exceptions import TicketError
from tiers.models import Tier
from tiers.roles import Role, staff_role

TITLE_MAX = 200
BODY_MAX = 10_000


@dataclass(frozen=True)
class ReplyInput:
    title: str
    body: str
    language: str = ""
    tier: Tier | None = None  # None: a personal reply


def placeholder_problem(body: str) -> str | None:
    """Why `body` cannot be saved because of its placeholders, or None."""
    unknown = placeholders.unknown_placeholders(body)
    if not unknown:
        return None
    return _("Unknown placeholders: %(unknown)s. Use only these: %(allowed)s.") % {
        "unknown": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
        "allowed": placeholders.allowed_list(),
    }


def _validated(data: ReplyInput) -> ReplyInput:
    title, body = data.title.strip(), data.body.strip()
    if not title or not body:
        raise TicketError(TicketError.INVALID, _("A canned reply needs a title and a text."))
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        raise TicketError(TicketError.INVALID, _("The title or the text is too long."))
    problem = placeholder_problem(body)
    if problem:
        raise TicketError(TicketError.INVALID, problem)
    return ReplyInput(title=title, body=body, language=data.language, tier=data.tier)


def _check_scope(user, data: ReplyInput) -> None:
    role = staff_role(user)
    if role is None:
        raise TicketError(TicketError.FORBIDDEN, _("Only agents and managers have canned replies."))
    if data.tier is not None and role != Role.MANAGER:
        raise TicketError(TicketError.FORBIDDEN, _("Only managers write replies for a whole tier."))


def _reply_for_change(user, reply_id: int) -> CannedReply:
    reply = canned_replies_visible_to(user).select_for_update(of=("self",)).filter(pk=reply_id).first()
    if reply is None:
        raise TicketError(TicketError.NOT_FOUND, _("No such canned reply."))
    if not may_manage(user, reply):
        raise TicketError(TicketError.FORBIDDEN, _("Only a manager can change the replies of a tier."))
    return reply


def canned_reply_save(*, user, data: ReplyInput, reply_id: int | None = None) -> CannedReply:
    """Create a reply (`reply_id` None) or change one. A personal reply belongs to its author; a manager who
    changes someone's personal reply leaves it theirs, and one who makes a tier-wide reply personal takes it."""
    _check_scope(user, data)
    data = _validated(data)
    with transaction.atomic():
        reply = CannedReply(created_at=timezone.now()) if reply_id is None else _reply_for_change(user, reply_id)
        reply.title, reply.body, reply.language = data.title, data.body, data.language
        if data.tier is not None:
            reply.tier, reply.owner = data.tier, None
        else:
            reply.tier = None
            if reply.owner_id is None:
                reply.owner = user
        reply.updated_at = timezone.now()
        reply.save()
    return reply


def canned_reply_delete(*, user, reply_id: int) -> None:
    with transaction.atomic():
        _reply_for_change(user, reply_id).delete()
