"""Raw webhook bodies compressed with lz4 instead of pglz on PostgreSQL.

Every delivery keeps its raw body (about 8 KB for an order), which PostgreSQL compresses when it
stores it; pglz was the largest single cost of the database under a flash sale (docs/benchmark.md).
lz4 compresses several times faster at a similar size. Rows already stored keep their pglz
bodies (both read the same). Skipped on SQLite and on a PostgreSQL built without lz4.
"""

from django.db import migrations

TABLE, COLUMN = "shopify_webhookdelivery", "body"


def _lz4_available(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cursor.fetchone()
    return bool(row and row[0])


def use_lz4(apps, schema_editor):
    if _lz4_available(schema_editor):
        schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET COMPRESSION lz4")


def use_default(apps, schema_editor):
    # SET COMPRESSION exists from PostgreSQL 14, as lz4 does: nothing to undo before it.
    if schema_editor.connection.vendor == "postgresql" and schema_editor.connection.pg_version >= 140000:
        schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET COMPRESSION default")


class Migration(migrations.Migration):
    dependencies = [("shopify", "0001_initial")]
    operations = [migrations.RunPython(use_lz4, use_default)]
