"""Products and mappings are looked up by (loja, sku), and their unique constraints on (loja, sku)
already index the loja first: the foreign key's own index was a second copy. Worse, on a table not
yet analyzed the planner took it for an SKU lookup and filtered a loja's every product (a hundred
rows read for each line item of a webhook). Only the index goes (chegouhub/common/migration_ops.py).
"""

from django.db import migrations, models

from chegouhub.common.migration_ops import drop_foreign_key_index


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction
    dependencies = [("inventory", "0002_drop_redundant_indexes"), ("stores", "0001_initial")]
    operations = [
        drop_foreign_key_index(
            "produto", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="produtos",
                              to="stores.loja"),
            "inventory_produto_loja_id_c70249a5", "inventory_produto", "loja_id",
        ),
        drop_foreign_key_index(
            "mapeamento", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="mapeamentos",
                              to="stores.loja"),
            "inventory_mapeamento_loja_id_040f4439", "inventory_mapeamento", "loja_id",
        ),
    ]
