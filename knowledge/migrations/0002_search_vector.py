"""PostgreSQL: a stored, weighted full-text vector of each article (title and tags, problem, solution) with
a GIN index, and a trigram index on titles. Other databases get neither (`knowledge.search` falls back)."""
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from helpdesk.postgres import on_postgresql

COLUMN = """
ALTER TABLE knowledge_article ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('russian'::regconfig, coalesce(title, '') || ' ' || coalesce(tag_names, '')), 'A')
    || setweight(to_tsvector('russian'::regconfig, coalesce(problem, '')), 'B')
    || setweight(to_tsvector('russian'::regconfig, coalesce(solution, '')), 'C')
) STORED
"""
INDEXES = [
    "CREATE INDEX IF NOT EXISTS article_search_gin ON knowledge_article USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS article_title_trgm ON knowledge_article USING gin (title gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS article_title_trgm",
    "DROP INDEX IF EXISTS article_search_gin",
    "ALTER TABLE knowledge_article DROP COLUMN IF EXISTS search_vector",
]


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        TrigramExtension(),
        on_postgresql([COLUMN, *INDEXES], DROP),
    ]
