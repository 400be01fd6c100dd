"""Seed two business calendars and a default SLA policy for every tier × priority."""
from datetime import timedelta

from django.conf import settings
from django.db import migrations

H = timedelta(hours=1)
M = timedelta(minutes=1)
BUSINESS_DAY = 8 * H  # the office calendar's working day is 09:00–17:00

# priority: (response, time at tier, resolution, calendar)
DEFAULTS = {
    "P1": (15 * M, 30 * M, 4 * H, "24×7"),
    "P2": (1 * H, 2 * H, BUSINESS_DAY, "Office hours"),
    "P3": (4 * H, BUSINESS_DAY, 3 * BUSINESS_DAY, "Office hours"),
    "P4": (BUSINESS_DAY, 2 * BUSINESS_DAY, 10 * BUSINESS_DAY, "Office hours"),
}


def seed(apps, schema_editor):
    BusinessCalendar = apps.get_model("tiers", "BusinessCalendar")
    SLAPolicy = apps.get_model("tiers", "SLAPolicy")
    Tier = apps.get_model("tiers", "Tier")
    calendars = {
        "24×7": BusinessCalendar.objects.get_or_create(name="24×7", defaults={"always_open": True})[0],
        "Office hours": BusinessCalendar.objects.get_or_create(
            name="Office hours",
            defaults={"time_zone": settings.TIME_ZONE, "work_days": "1,2,3,4,5", "work_start": "09:00",
                      "work_end": "17:00"},
        )[0],
    }
    for tier in Tier.objects.all():
        for priority, (response, at_tier, resolution, calendar) in DEFAULTS.items():
            SLAPolicy.objects.get_or_create(
                tier=tier,
                priority=priority,
                defaults={"calendar": calendars[calendar], "response_time": response, "escalation_time": at_tier,
                          "resolution_time": resolution},
            )


class Migration(migrations.Migration):
    dependencies = [("tiers", "0003_sla")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
