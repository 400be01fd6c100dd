"""Admin for tiers and for which agents work in them."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from tiers.models import BusinessCalendar, CalendarHoliday, SLAPolicy, StaffProfile, Tier, TierMembership


class TierMembershipInline(admin.TabularInline):
    model = TierMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """Managers edit a tier's name, description, members and automatic assignment."""

    list_display = ["code", "name", "level", "assignment", "match_skills"]
    list_editable = ["assignment", "match_skills"]
    fields = ["code", "name", "level", "description", "assignment", "match_skills", "last_assigned"]
    readonly_fields = ["last_assigned"]
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

    def get_readonly_fields(self, request, obj=None):
        # Managers may change users, but superuser status and one-off permissions are a superuser's to give:
        # otherwise a manager could grant them to themselves and step past the managers' own permissions
        # (reading every API token, for one).
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request, obj=None):
        # A superuser's account, and its password, are changed by a superuser only: a manager who could set
        # it would take the account over.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)


class CalendarHolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "always_open", "time_zone", "work_days", "work_start", "work_end", "holiday_country"]
    inlines = [CalendarHolidayInline]


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    """Durations are entered as [DD] [HH:[MM:]]ss, e.g. "00:30:00" for 30 minutes or "2 00:00:00" for two days."""

    list_display = ["tier", "priority", "calendar", "response_time", "escalation_time", "resolution_time"]
    list_editable = ["calendar", "response_time", "escalation_time", "resolution_time"]
    list_filter = ["tier", "priority", "calendar"]
    list_select_related = ["tier", "calendar"]
    ordering = ["tier__level", "priority"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """A staff member's skills (categories, for tiers that match skills when assigning), away switch and
    language. A profile is made on first use (the desk's away or language switch) or here."""

    list_display = ["user", "away", "language"]
    list_editable = ["away"]
    list_filter = ["away", "skills"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    fields = ["user", "away", "skills", "language"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["skills"]
    ordering = ["user__username"]

    def has_delete_permission(self, request, obj=None):
        return False
