"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each event wrote five index entries, now three. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it), and
concurrently on PostgreSQL, so the release still serving keeps writing meanwhile.
"""

from django.conf import settings
from django.db import migrations, models


def drop_index(name: str):
    def forwards(apps, schema_editor):
        # CONCURRENTLY on PostgreSQL: a plain DROP INDEX would hold an exclusive lock on a table
        # the running release is writing to (deploys migrate while it serves).
        concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')

    return forwards


def create_index(name: str, table: str, column: str):
    def backwards(apps, schema_editor):
        concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
        schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{name}" ON "{table}" ("{column}")')

    return backwards


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction
    dependencies = [
        ("realtime", "0001_initial"),
        ("stores", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="loja",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="stores.loja",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("realtime_event_loja_id_d0f43c85"),
                    create_index("realtime_event_loja_id_d0f43c85", "realtime_event", "loja_id"),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("realtime_event_user_id_01c98f9d"),
                    create_index("realtime_event_user_id_01c98f9d", "realtime_event", "user_id"),
                ),
            ],
        ),
    ]
