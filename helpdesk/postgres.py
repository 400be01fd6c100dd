"""Schema that only PostgreSQL has (full-text vectors, trigram and expression indexes), for migrations."""
from django.db import migrations


def on_postgresql(forwards: list[str], backwards: list[str]) -> migrations.RunPython:
    """A migration step that runs `forwards` (and, unapplied, `backwards`) on PostgreSQL and nothing elsewhere."""

    def run(statements):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                for statement in statements:
                    schema_editor.execute(statement)

        return apply

    return migrations.RunPython(run(forwards), run(backwards))
