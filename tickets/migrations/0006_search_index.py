"""Fill search_text for existing tickets; on PostgreSQL index it for full-text search."""
from django.db import migrations

INDEX = "CREATE INDEX IF NOT EXISTS ticket_search_gin ON tickets_ticket USING gin (to_tsvector('simple', search_text))"
DROP = "DROP INDEX IF EXISTS ticket_search_gin"


def fill(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    Comment = apps.get_model("tickets", "Comment")
    for ticket in Ticket.objects.iterator():
        bodies = Comment.objects.filter(ticket_id=ticket.pk).order_by("id").values_list("body", flat=True)
        ticket.search_text = "\n".join([ticket.subject, ticket.description, *bodies])
        ticket.save(update_fields=["search_text"])


def index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0005_ticket_search_text")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(index, drop),
    ]
