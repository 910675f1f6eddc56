"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert, and so is the LIKE copy of the webhook id's unique index: each
delivery wrote eight index entries, now six; each ledger row three, now two. Only the indexes go,
concurrently on PostgreSQL (chegouhub/common/migration_ops.py).
"""

from django.db import migrations, models

from chegouhub.common.migration_ops import drop_foreign_key_index

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


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction
    dependencies = [("shopify", "0002_webhook_body_lz4"), ("stores", "0001_initial")]
    # The deliveries' first, then the ledger's: the order both webhook paths lock the two tables in.
    operations = [
        drop_foreign_key_index(
            "webhookdelivery", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="deliveries",
                              to="stores.loja"),
            "shopify_webhookdelivery_loja_id_f1b1dfe2", "shopify_webhookdelivery", "loja_id",
        ),
        migrations.RunPython(drop_like_index, create_like_index),
        drop_foreign_key_index(
            "orderledger", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="orders",
                              to="stores.loja"),
            "shopify_orderledger_loja_id_e5479b31", "shopify_orderledger", "loja_id",
        ),
    ]
