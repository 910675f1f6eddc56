"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each stock movement wrote six index entries, now four. Only the
index goes, concurrently on PostgreSQL (chegouhub/common/migration_ops.py).
"""

from django.db import migrations, models

from chegouhub.common.migration_ops import drop_foreign_key_index


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction
    dependencies = [("inventory", "0001_initial"), ("stores", "0001_initial")]
    operations = [
        drop_foreign_key_index(
            "movimentacao", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="movimentacoes",
                              to="stores.loja"),
            "inventory_movimentacao_loja_id_cec6092d", "inventory_movimentacao", "loja_id",
        ),
        drop_foreign_key_index(
            "movimentacao", "produto",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="movimentacoes",
                              to="inventory.produto"),
            "inventory_movimentacao_produto_id_d3c2ea8d", "inventory_movimentacao", "produto_id",
        ),
    ]
