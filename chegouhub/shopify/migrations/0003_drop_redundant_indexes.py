"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each delivery wrote eight index entries, now six with the
LIKE copy of the webhook id's unique index below; each ledger row three, now two. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it), and
concurrently on PostgreSQL, so the release still serving keeps writing meanwhile.
"""

from django.db import migrations, models

LIKE_INDEX = "shopify_webhookdelivery_webhook_id_423fb205_like"


def drop_like_index(apps, schema_editor):
    # PostgreSQL only: Django adds a varchar_pattern_ops copy of a unique CharField's index for
    # LIKE queries, and nothing searches webhook ids by prefix.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{LIKE_INDEX}"')


def create_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{LIKE_INDEX}" ON "shopify_webhookdelivery" '
            '("webhook_id" varchar_pattern_ops)'
        )


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
    dependencies = [("shopify", "0002_webhook_body_lz4"), ("stores", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="orderledger",
                    name="loja",
                    field=models.ForeignKey(
                        db_index=False, on_delete=models.deletion.CASCADE, related_name="orders", to="stores.loja"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("shopify_orderledger_loja_id_e5479b31"),
                    create_index("shopify_orderledger_loja_id_e5479b31", "shopify_orderledger", "loja_id"),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="loja",
                    field=models.ForeignKey(
                        db_index=False, on_delete=models.deletion.CASCADE, related_name="deliveries", to="stores.loja"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("shopify_webhookdelivery_loja_id_f1b1dfe2"),
                    create_index("shopify_webhookdelivery_loja_id_f1b1dfe2", "shopify_webhookdelivery", "loja_id"),
                ),
            ],
        ),
        migrations.RunPython(drop_like_index, create_like_index),
    ]
