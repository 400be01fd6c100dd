"""Staff roles (agent, manager) as Django groups, and the role of a user.

A user's role is decided here and nowhere else: membership of the managers
group (or superuser) makes a manager; membership of the agents group makes an
agent. Which tiers an agent may act on is `TierMembership`.
"""
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, TextChoices
from django.utils.translation import gettext_lazy as _

AGENTS_GROUP = "Agents"
MANAGERS_GROUP = "Managers"


class Role(TextChoices):
    AGENT = "agent", _("agent")
    MANAGER = "manager", _("manager")
    CUSTOMER = "customer", _("customer")
    INTEGRATION = "integration", _("integration")
    SYSTEM = "system", _("system")


# What each group may do in the admin. Events are append-only: nobody gets
# their change or delete permission.
_GROUP_PERMISSIONS = {
    AGENTS_GROUP: [
        ("tickets", "view_ticket"),
        ("tickets", "view_event"),
        ("tickets", "view_comment"),
        ("tickets", "view_category"),
        ("tickets", "view_requester"),
        ("tiers", "view_tier"),
    ],
    MANAGERS_GROUP: [
        ("tickets", "view_ticket"),
        ("tickets", "view_event"),
        ("tickets", "view_comment"),
        ("tickets", "add_category"),
        ("tickets", "change_category"),
        ("tickets", "view_category"),
        ("tickets", "view_requester"),
        ("tickets", "change_requester"),
        ("tiers", "view_tier"),
        ("tiers", "change_tier"),
        ("tiers", "add_tiermembership"),
        ("tiers", "change_tiermembership"),
        ("tiers", "delete_tiermembership"),
        ("tiers", "view_tiermembership"),
        ("tiers", "view_slapolicy"),
        ("tiers", "add_slapolicy"),
        ("tiers", "change_slapolicy"),
        ("tiers", "view_businesscalendar"),
        ("tiers", "add_businesscalendar"),
        ("tiers", "change_businesscalendar"),
        ("tiers", "view_calendarholiday"),
        ("tiers", "add_calendarholiday"),
        ("tiers", "change_calendarholiday"),
        ("tiers", "delete_calendarholiday"),
        # A staff member's profile on the user page: away, skills and language.
        ("tiers", "view_staffprofile"),
        ("tiers", "add_staffprofile"),
        ("tiers", "change_staffprofile"),
        ("webhooks", "view_webhook"),
        ("webhooks", "view_delivery"),
        ("webhooks", "view_attempt"),
        ("notifications", "view_notification"),
        ("inbound", "view_inboundmessage"),
        ("inbound", "change_inboundmessage"),  # retrying quarantined mail; the messages stay read-only
        ("inbound", "view_mailboxstate"),
        ("knowledge", "view_article"),
        ("knowledge", "view_revision"),
        ("knowledge", "view_tag"),
        ("knowledge", "view_suggestionuse"),
        ("knowledge", "view_deflection"),
        ("auth", "view_user"),
        ("auth", "change_user"),
        ("auth", "add_user"),
        ("auth", "view_group"),
    ],
}


def ensure_role_groups(**kwargs):
    """Create the role groups and give them their permissions (idempotent)."""
    for group_name, perms in _GROUP_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        match = Q()
        for app_label, codename in perms:
            match |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(match))


def staff_role(user) -> Role | None:
    """The staff role of a user: MANAGER, AGENT, or None for anyone else."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_tierdesk_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role = Role.MANAGER
    else:
        names = set(user.groups.values_list("name", flat=True))
        role = Role.MANAGER if MANAGERS_GROUP in names else Role.AGENT if AGENTS_GROUP in names else None
    user._tierdesk_role = role
    return role


def tier_ids_of(user) -> frozenset[int]:
    """Ids of the tiers whose tickets this user may act on as an agent."""
    cached = getattr(user, "_tierdesk_tier_ids", None)
    if cached is None:
        cached = frozenset(user.tier_memberships.values_list("tier_id", flat=True))
        user._tierdesk_tier_ids = cached
    return cached
