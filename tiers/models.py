"""Support tiers, who works in them, business calendars and SLA policies."""
import zoneinfo
from datetime import timedelta

import holidays as public_holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from tiers.sla import Calendar


class Priority(models.TextChoices):
    P1 = "P1", _("P1 — critical")
    P2 = "P2", _("P2 — high")
    P3 = "P3", _("P3 — normal")
    P4 = "P4", _("P4 — low")


class Assignment(models.TextChoices):
    """How a tier hands out the tickets that arrive in its queue (see tickets/assignment.py)."""

    OFF = "off", _("off: agents take tickets themselves")
    ROUND_ROBIN = "round_robin", _("round-robin")
    LEAST_LOADED = "least_loaded", _("least loaded (fewest open tickets)")


class Tier(models.Model):
    """A support level: L1 takes first contact, L2 and L3 take what the level below could not solve."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), unique=True)
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="TierMembership",
        related_name="tiers",
        blank=True,
        verbose_name=_("members"),
    )
    assignment = models.CharField(
        _("automatic assignment"),
        max_length=16,
        choices=Assignment.choices,
        default=Assignment.OFF,
        help_text=_("Give each ticket that arrives in this tier (new or escalated) to one of its agents."),
    )
    match_skills = models.BooleanField(
        _("match skills"),
        default=False,
        help_text=_("Only agents with the ticket's category among their skills get it; "
                    "tickets without a category go to any agent."),
    )
    # The round-robin pointer: the next ticket goes to the first eligible agent after this one (by id).
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("last assigned to"),
    )

    class Meta:
        ordering = ["level"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self):
        return self.code

    def next_up(self) -> "Tier | None":
        return Tier.objects.filter(level__gt=self.level).order_by("level").first()

    def next_down(self) -> "Tier | None":
        return Tier.objects.filter(level__lt=self.level).order_by("-level").first()


class TierMembership(models.Model):
    """An agent may act on tickets at the tiers they are a member of (and read all tiers)."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tier"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tier_memberships", verbose_name=_("agent")
    )
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)
    # When automatic assignment last gave this agent a ticket of this tier: among equally loaded agents the
    # one who waited longest gets the next.
    last_assigned_at = models.DateTimeField(_("last assigned automatically"), null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tier", "user"], name="tier_membership_unique")]
        verbose_name = _("tier membership")
        verbose_name_plural = _("tier memberships")

    def __str__(self):
        return f"{self.user} @ {self.tier}"


WEEKDAYS = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone %(zone)s."), params={"zone": value})


def validate_work_days(value: str) -> None:
    try:
        days = parse_work_days(value)
    except ValueError:
        days = None
    if not days:
        raise ValidationError(_("List working days as numbers from 1 (Monday) to 7 (Sunday), e.g. 1,2,3,4,5."))


def parse_work_days(value: str) -> frozenset[int]:
    """'1,2,3,4,5' (ISO weekday numbers) → {0, 1, 2, 3, 4} (Python weekdays)."""
    days = {int(part) for part in value.replace(" ", "").split(",") if part}
    if not days <= set(range(1, 8)):
        raise ValueError(value)
    return frozenset(day - 1 for day in days)


def validate_country(value: str) -> None:
    if value and value.upper() not in public_holidays.list_supported_countries():
        raise ValidationError(_("No public holidays are known for country code %(code)s."), params={"code": value})


class BusinessCalendar(models.Model):
    """When support works: days, hours and time zone, public holidays of a country, company days off."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    always_open = models.BooleanField(
        _("24×7"), default=False, help_text=_("Every hour of every day counts; days and hours below are ignored.")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    work_days = models.CharField(
        _("working days"),
        max_length=20,
        default="1,2,3,4,5",
        validators=[validate_work_days],
        help_text=_("ISO weekday numbers: 1 = Monday … 7 = Sunday."),
    )
    work_start = models.TimeField(_("working day starts"), default="09:00")
    work_end = models.TimeField(_("working day ends"), default="17:00")
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=8,
        blank=True,
        validators=[validate_country],
        help_text=_("Country code (e.g. GB, DE, US, RU) whose public holidays are days off. Empty: none."),
    )
    holiday_subdivision = models.CharField(
        _("region"), max_length=16, blank=True, help_text=_("Optional state or region code for regional holidays.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self):
        return self.name

    def clean(self):
        if not self.always_open and self.work_start and self.work_end and self.work_start >= self.work_end:
            raise ValidationError({"work_end": _("The working day must end after it starts.")})
        if self.holiday_country and self.holiday_subdivision:
            try:
                public_holidays.country_holidays(self.holiday_country.upper(), subdiv=self.holiday_subdivision)
            except NotImplementedError:
                raise ValidationError({"holiday_subdivision": _("Unknown region for this country.")}) from None

    def to_calendar(self, custom_days=()) -> Calendar:
        """The pure calendar for `tiers.sla`, with public holidays and the given company days off."""
        if self.always_open:
            return Calendar(always_open=True)
        days_off = _DaysOff(set(custom_days), self.holiday_country.upper(), self.holiday_subdivision or None)
        return Calendar(
            tz=zoneinfo.ZoneInfo(self.time_zone),
            work_days=parse_work_days(self.work_days),
            start=self.work_start,
            end=self.work_end,
            holidays=days_off,
        )


class _DaysOff:
    """Company days off plus a country's public holidays, looked up by date (years load on demand)."""

    def __init__(self, custom: set, country: str, subdivision: str | None):
        self.custom = custom
        self.country = country
        self.subdivision = subdivision

    @cached_property
    def public(self):
        if not self.country:
            return {}
        return public_holidays.country_holidays(self.country, subdiv=self.subdivision)

    def __contains__(self, day) -> bool:
        return day in self.custom or day in self.public


class CalendarHoliday(models.Model):
    """A company day off (or a local holiday the public list lacks)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="days_off", verbose_name=_("calendar")
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendar_holiday_unique")]
        verbose_name = _("day off")
        verbose_name_plural = _("days off")

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class SLAPolicy(models.Model):
    """How long a ticket of one priority may take at one tier, counted in the calendar's working time."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="sla_policies", verbose_name=_("tier"))
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices)
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="policies", verbose_name=_("calendar")
    )
    response_time = models.DurationField(_("time to first response"))
    escalation_time = models.DurationField(
        _("time at this tier"),
        help_text=_("After this much working time at the tier the ticket is escalated (at the last tier: a breach)."),
    )
    resolution_time = models.DurationField(_("time to resolution"))

    class Meta:
        ordering = ["tier__level", "priority"]
        constraints = [models.UniqueConstraint(fields=["tier", "priority"], name="sla_policy_unique")]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self):
        return f"{self.tier} {self.priority}"

    def clean(self):
        for name in ("response_time", "escalation_time", "resolution_time"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValidationError({name: _("Must be longer than zero.")})


class StaffProfile(models.Model):
    """An agent's or manager's own settings."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    away = models.BooleanField(
        _("away"), default=False, help_text=_("Away agents get no tickets by automatic assignment.")
    )
    # A string reference: tiers never imports tickets.
    skills = models.ManyToManyField(
        "tickets.Category",
        blank=True,
        related_name="skilled_staff",
        verbose_name=_("skills"),
        help_text=_("Categories this agent handles, for tiers that match skills when assigning."),
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self):
        return str(self.user)
