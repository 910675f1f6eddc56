"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each delivery wrote eight index entries, now six with the
LIKE copy of the webhook id's unique index below; each ledger row three, now two. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it).
"""

from django.db import migrations, models

LIKE_INDEX = "shopify_webhookdelivery_webhook_id_423fb205_like"


def drop_like_index(apps, schema_editor):
    # PostgreSQL only: Django adds a varchar_pattern_ops copy of a unique CharField's index for
    # LIKE queries, and nothing searches webhook ids by prefix.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{LIKE_INDEX}"')


def create_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{LIKE_INDEX}" ON "shopify_webhookdelivery" ("webhook_id" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
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
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "shopify_orderledger_loja_id_e5479b31"',
                    'CREATE INDEX IF NOT EXISTS "shopify_orderledger_loja_id_e5479b31" ON "shopify_orderledger" ("loja_id")',
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
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "shopify_webhookdelivery_loja_id_f1b1dfe2"',
                    'CREATE INDEX IF NOT EXISTS "shopify_webhookdelivery_loja_id_f1b1dfe2" ON "shopify_webhookdelivery" ("loja_id")',
                ),
            ],
        ),
        migrations.RunPython(drop_like_index, create_like_index),
    ]
