"""Which canned replies a user sees and may change — decided here only, for the desk and the API alike."""
from django.db.models import Q, QuerySet

from canned import placeholders
from canned.models import CannedReply
from tiers.roles import Role, staff_role, tier_ids_of


def canned_replies_visible_to(user) -> QuerySet[CannedReply]:
    """An agent's own replies and those of their tiers; every reply for a manager; none for anyone else."""
    replies = CannedReply.objects.select_related("owner", "tier")
    role = staff_role(user)
    if role == Role.MANAGER:
        return replies
    if role == Role.AGENT:
        return replies.filter(Q(owner=user) | Q(tier_id__in=tier_ids_of(user)))
    return replies.none()


def may_manage(user, reply: CannedReply) -> bool:
    """Whether `user` may change or delete `reply`: its owner, or a manager (tier-wide replies are theirs)."""
    role = staff_role(user)
    return role == Role.MANAGER or (role == Role.AGENT and reply.owner_id == user.pk)


def rendered_for_ticket(user, ticket) -> list[dict]:
    """Every reply `user` sees, filled in for `ticket` (requester and tier loaded): one query.

    Replies in the customer's language, or in none, come before those written for another language."""
    values = placeholders.values_for(ticket, user)
    language = ticket.requester.language
    replies = sorted(canned_replies_visible_to(user),
                     key=lambda r: (bool(language) and r.language not in ("", language), r.title.lower(), r.pk))
    return [
        {"id": reply.pk, "title": reply.title, "text": placeholders.render(reply.body, values),
         "language": reply.language, "scope": "personal" if reply.is_personal else "tier"}
        for reply in replies
    ]
