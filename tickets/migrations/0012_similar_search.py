"""PostgreSQL: a weighted full-text vector of each ticket for finding earlier fixes, and a trigram index on
subjects; both only over resolved and closed tickets. Other databases get neither (`knowledge.search` falls
back to scoring in Python).

The vector is a stored generated column: PostgreSQL keeps it in step with the row on every write, so no code
path can forget it. The `russian` configuration stems Russian words and, through its English stemmer for
ASCII words, English ones too.
"""
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from helpdesk.postgres import on_postgresql

COLUMN = """
ALTER TABLE tickets_ticket ADD COLUMN IF NOT EXISTS similar_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('russian'::regconfig, coalesce(subject, '')), 'A')
    || setweight(to_tsvector('russian'::regconfig, coalesce(affected_item, '') || ' ' || coalesce(findings, '')), 'B')
    || setweight(to_tsvector('russian'::regconfig, coalesce(resolution_summary, '')), 'C')
    || setweight(to_tsvector('russian'::regconfig, left(coalesce(description, ''), 4000)), 'D')
) STORED
"""
INDEXES = [
    "CREATE INDEX IF NOT EXISTS ticket_similar_gin ON tickets_ticket USING gin (similar_vector) "
    "WHERE status IN ('resolved', 'closed')",
    "CREATE INDEX IF NOT EXISTS ticket_subject_trgm ON tickets_ticket USING gin (subject gin_trgm_ops) "
    "WHERE status IN ('resolved', 'closed')",
]
DROP = [
    "DROP INDEX IF EXISTS ticket_subject_trgm",
    "DROP INDEX IF EXISTS ticket_similar_gin",
    "ALTER TABLE tickets_ticket DROP COLUMN IF EXISTS similar_vector",
]


class Migration(migrations.Migration):
    dependencies = [("tickets", "0011_knowledge_kinds_and_requester_index")]

    operations = [
        TrigramExtension(),
        on_postgresql([COLUMN, *INDEXES], DROP),
    ]
