"""PostgreSQL: the full-text index of tickets rebuilt on the very expression the search filter produces.

Django's SearchVector wraps the column in COALESCE, `to_tsvector('simple', COALESCE(search_text, ''))`;
the index of migration 0006 was on `to_tsvector('simple', search_text)`, which the planner cannot match,
so every search read the whole table.
"""
from django.db import migrations

from helpdesk.postgres import on_postgresql

OLD = "CREATE INDEX IF NOT EXISTS ticket_search_gin ON tickets_ticket USING gin (to_tsvector('simple', search_text))"
NEW = ("CREATE INDEX IF NOT EXISTS ticket_search_gin ON tickets_ticket "
       "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, ''::text)))")
DROP = "DROP INDEX IF EXISTS ticket_search_gin"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0012_similar_search")]

    operations = [on_postgresql([DROP, NEW], [DROP, OLD])]
