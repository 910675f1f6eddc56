"""Depósitos (CONTRACT 10): every existing loja gets its own, named after it, so a user with
separate stocks sees no change. Stock sync fields, off by default."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def one_deposito_per_loja(apps, schema_editor):
    Loja = apps.get_model("stores", "Loja")
    Deposito = apps.get_model("stores", "Deposito")
    for loja in Loja.objects.filter(deposito__isnull=True).only("id", "owner_id", "nome", "shop_domain").iterator():
        deposito = Deposito.objects.create(owner_id=loja.owner_id, nome=loja.nome or loja.shop_domain)
        Loja.objects.filter(pk=loja.pk).update(deposito=deposito)


class Migration(migrations.Migration):
    dependencies = [("stores", "0004_loja_manter_historico"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Deposito",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("nome", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("owner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="depositos",
                                            to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.AddField(
            model_name="loja", name="deposito",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="lojas",
                                    to="stores.deposito"),
        ),
        migrations.RunPython(one_deposito_per_loja, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="loja", name="deposito",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="lojas",
                                    to="stores.deposito"),
        ),
        migrations.AddField(model_name="loja", name="sincronizar_estoque", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="loja", name="estoque_reserva",
            field=models.BigIntegerField(default=0, validators=[django.core.validators.MinValueValidator(0)]),
        ),
    ]
