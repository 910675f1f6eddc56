"""Migration operations shared by the apps' migrations (keep them stable: applied migrations use them)."""

from __future__ import annotations

from django.db import migrations


def _concurrently(schema_editor) -> str:
    # CONCURRENTLY on PostgreSQL: a plain DROP/CREATE INDEX would hold a lock that blocks the writes
    # of the release still serving (deploys migrate while it runs). It needs `atomic = False`.
    return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""


def drop_foreign_key_index(model_name: str, name: str, field, index: str, table: str, column: str):
    """The state's ForeignKey `field` (db_index=False), and in the database only its index dropped.

    The foreign-key constraint is left as it is, so no table is scanned again to re-validate it
    (Django's own AlterField drops and re-adds the constraint).
    """

    def forwards(apps, schema_editor):
        schema_editor.execute(f'DROP INDEX {_concurrently(schema_editor)}IF EXISTS "{index}"')

    def backwards(apps, schema_editor):
        schema_editor.execute(
            f'CREATE INDEX {_concurrently(schema_editor)}IF NOT EXISTS "{index}" ON "{table}" ("{column}")'
        )

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[migrations.RunPython(forwards, backwards)],
    )
