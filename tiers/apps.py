from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "tiers"
    verbose_name = _("Support tiers")

    def ready(self):
        from tiers.roles import ensure_role_groups

        # Permissions only exist after every app has migrated, so the role
        # groups are synchronised on post_migrate rather than in a migration.
        post_migrate.connect(ensure_role_groups, dispatch_uid="tiers.ensure_role_groups")
