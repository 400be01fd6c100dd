"""PostgreSQL: a weighted full-text vector of each ticket for finding earlier fixes, and a trigram index on
subjects; both only over resolved and closed tickets. Other databases get neither (`knowledge.search` falls
back to scoring in Python).

The vector is a stored generated column: PostgreSQL keeps it in step with the row on every write, so no code
path can forget it. The text search configuration `tierdesk` stems Russian words and English (ASCII) ones
with the Snowball stemmers, and keeps every word: which words matter is decided by the application
(`tickets.similarity`), so a query never silently loses a key word PostgreSQL would call a stop word
("network down" must not become "network").
"""
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from helpdesk.postgres import on_postgresql

CONFIGURATION = [
    "CREATE TEXT SEARCH DICTIONARY tierdesk_english (TEMPLATE = snowball, LANGUAGE = english)",
    "CREATE TEXT SEARCH DICTIONARY tierdesk_russian (TEMPLATE = snowball, LANGUAGE = russian)",
    "CREATE TEXT SEARCH CONFIGURATION tierdesk (COPY = russian)",
    "ALTER TEXT SEARCH CONFIGURATION tierdesk ALTER MAPPING FOR asciiword, asciihword, hword_asciipart "
    "WITH tierdesk_english",
    "ALTER TEXT SEARCH CONFIGURATION tierdesk ALTER MAPPING FOR word, hword, hword_part WITH tierdesk_russian",
]
COLUMN = """
ALTER TABLE tickets_ticket ADD COLUMN IF NOT EXISTS similar_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(subject, ''), 'ёЁ', 'еЕ')), 'A')
    || setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(affected_item, ''), 'ёЁ', 'еЕ') || ' ' || translate(coalesce(findings, ''), 'ёЁ', 'еЕ')), 'B')
    || setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(resolution_summary, ''), 'ёЁ', 'еЕ')), 'C')
    || setweight(to_tsvector('tierdesk'::regconfig, left(translate(coalesce(description, ''), 'ёЁ', 'еЕ'), 4000)), 'D')
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
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS tierdesk",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS tierdesk_russian",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS tierdesk_english",
]


class Migration(migrations.Migration):
    dependencies = [("tickets", "0011_knowledge_kinds_and_requester_index")]

    operations = [
        TrigramExtension(),
        on_postgresql([*CONFIGURATION, COLUMN, *INDEXES], DROP),
    ]
