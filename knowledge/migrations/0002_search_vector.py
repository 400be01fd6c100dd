"""PostgreSQL: a stored, weighted full-text vector of each article (title and tags, problem, solution) with
a GIN index, and a trigram index on titles. Other databases get neither (`knowledge.search` falls back)."""
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from helpdesk.postgres import on_postgresql

COLUMN = """
ALTER TABLE knowledge_article ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(title, ''), 'ёЁ', 'еЕ') || ' ' || translate(coalesce(tag_names, ''), 'ёЁ', 'еЕ')), 'A')
    || setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(problem, ''), 'ёЁ', 'еЕ')), 'B')
    || setweight(to_tsvector('tierdesk'::regconfig, translate(coalesce(solution, ''), 'ёЁ', 'еЕ')), 'C')
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
    # The text search configuration `tierdesk` comes from tickets.0012.
    dependencies = [("knowledge", "0001_initial"), ("tickets", "0012_similar_search")]

    operations = [
        TrigramExtension(),
        on_postgresql([COLUMN, *INDEXES], DROP),
    ]
