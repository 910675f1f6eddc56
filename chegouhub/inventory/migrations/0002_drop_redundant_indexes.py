"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each stock movement wrote six index entries, now four. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it), and
concurrently on PostgreSQL, so the release still serving keeps writing meanwhile.
"""

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
    dependencies = [("inventory", "0001_initial"), ("stores", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="movimentacao",
                    name="loja",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="movimentacoes",
                        to="stores.loja",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("inventory_movimentacao_loja_id_cec6092d"),
                    create_index("inventory_movimentacao_loja_id_cec6092d", "inventory_movimentacao", "loja_id"),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="movimentacao",
                    name="produto",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="movimentacoes",
                        to="inventory.produto",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    drop_index("inventory_movimentacao_produto_id_d3c2ea8d"),
                    create_index("inventory_movimentacao_produto_id_d3c2ea8d", "inventory_movimentacao", "produto_id"),
                ),
            ],
        ),
    ]
