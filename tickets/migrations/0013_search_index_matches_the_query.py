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
# A new expression index has no statistics until the table is analysed: the planner would misjudge how many
# tickets a word matches (5,000 against 66,064 for "printer" at 1M, 1.2 s against 15 ms).
ANALYZE = "ANALYZE tickets_ticket"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0012_similar_search")]

    operations = [on_postgresql([DROP, NEW, ANALYZE], [DROP, OLD, ANALYZE])]
