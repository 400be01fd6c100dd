"""The access log in the admin: read-only, for managers, filtered by user, action, channel and date."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from privacy.models import AccessRecord
from tiers.roles import Role, staff_role


class StaffUserFilter(admin.SimpleListFilter):
    """Only the users who appear in the log (not every account, as a plain foreign-key filter would list)."""

    title = _("user")
    parameter_name = "user"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(is_staff=True) | get_user_model().objects.filter(
            groups__isnull=False)
        return [(user.pk, user.get_username()) for user in users.distinct().order_by("username")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(user_id=int(value))
        return queryset


@admin.register(AccessRecord)
class AccessRecordAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "channel", "requester", "ticket", "address"]
    list_filter = [StaffUserFilter, "action", "channel", "at"]
    list_select_related = ["user", "requester", "ticket"]
    date_hierarchy = "at"
    search_fields = ["user__username", "requester__email"]
    fields = ["at", "user", "action", "channel", "requester", "ticket", "address", "reason"]
    readonly_fields = fields
    # No counting of the whole log on every page: it only grows.
    show_full_result_count = False

    def has_module_permission(self, request):
        return self._is_manager(request)

    def has_view_permission(self, request, obj=None):
        return self._is_manager(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @staticmethod
    def _is_manager(request) -> bool:
        return staff_role(request.user) == Role.MANAGER
