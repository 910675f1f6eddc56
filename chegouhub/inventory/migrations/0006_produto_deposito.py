"""Produtos move into their loja's depósito (stores 0005 gave each loja its own): SKUs become
unique per depósito, which for one loja per depósito is the same rule as before."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def produtos_into_their_lojas_deposito(apps, schema_editor):
    Produto = apps.get_model("inventory", "Produto")
    Loja = apps.get_model("stores", "Loja")
    Produto.objects.filter(deposito__isnull=True).update(
        deposito=Subquery(Loja.objects.filter(pk=OuterRef("loja_id")).values("deposito_id")[:1]))


class Migration(migrations.Migration):
    dependencies = [("inventory", "0005_origem_importacao"), ("stores", "0005_deposito")]

    operations = [
        migrations.AddField(
            model_name="produto", name="deposito",
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="produtos", to="stores.deposito"),
        ),
        migrations.RunPython(produtos_into_their_lojas_deposito, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="produto", name="deposito",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="produtos", to="stores.deposito"),
        ),
        migrations.RemoveConstraint(model_name="produto", name="produto_unique_sku_per_loja"),
        migrations.AddConstraint(
            model_name="produto",
            constraint=models.UniqueConstraint(fields=("deposito", "sku"), name="produto_unique_sku_per_deposito"),
        ),
    ]
