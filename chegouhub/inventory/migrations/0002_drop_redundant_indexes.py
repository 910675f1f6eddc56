"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each stock movement wrote six index entries, now four. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
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
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "inventory_movimentacao_loja_id_cec6092d"',
                    'CREATE INDEX IF NOT EXISTS "inventory_movimentacao_loja_id_cec6092d" ON "inventory_movimentacao" ("loja_id")',
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
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "inventory_movimentacao_produto_id_d3c2ea8d"',
                    'CREATE INDEX IF NOT EXISTS "inventory_movimentacao_produto_id_d3c2ea8d" ON "inventory_movimentacao" ("produto_id")',
                ),
            ],
        ),
    ]
