"""Admin for tiers and for which agents work in them."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from tiers.models import Tier, TierMembership


class TierMembershipInline(admin.TabularInline):
    model = TierMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level"]
    ordering = ["level"]
    inlines = [TierMembershipInline]

    def has_delete_permission(self, request, obj=None):
        # Tickets and events point at tiers; a tier is renamed, never removed.
        return False


class UserTierMembershipInline(admin.TabularInline):
    model = TierMembership
    extra = 0
    fields = ["tier"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class TierdeskUserAdmin(UserAdmin):
    inlines = [UserTierMembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active"]
