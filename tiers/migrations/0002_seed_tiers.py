"""Seed the three support tiers."""
from django.db import migrations

TIERS = [
    (1, "L1", "First line", "First contact by web form, phone and e-mail; basic settings and small faults."),
    (2, "L2", "Second line", "Harder problems the first line could not solve."),
    (3, "L3", "Experts", "Infrastructure, architecture and deep system faults."),
]


def seed(apps, schema_editor):
    Tier = apps.get_model("tiers", "Tier")
    for level, code, name, description in TIERS:
        Tier.objects.get_or_create(code=code, defaults={"level": level, "name": name, "description": description})


class Migration(migrations.Migration):
    dependencies = [("tiers", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
