from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "tiers"
    verbose_name = _("Support tiers")

    def ready(self):
        from tiers import middleware  # noqa: F401  (connects the sign-in language receiver)
        from tiers.roles import ensure_role_groups

        # Permissions only exist after every app has migrated, so the role
        # groups are synchronised on post_migrate rather than in a migration.
        post_migrate.connect(ensure_role_groups, dispatch_uid="tiers.ensure_role_groups")

        from tiers.models import BusinessCalendar, CalendarHoliday, SLAPolicy, Tier
        from tiers.selectors import clear_policy_cache

        def forget_policies(**kwargs):
            clear_policy_cache()

        for model in (BusinessCalendar, CalendarHoliday, SLAPolicy, Tier):
            for signal in (post_save, post_delete):
                signal.connect(forget_policies, sender=model, weak=False,
                               dispatch_uid=f"tiers.forget_policies.{model.__name__}")
