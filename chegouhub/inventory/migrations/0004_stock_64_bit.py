"""Stock columns hold 64-bit values (CONTRACT section 8): a stock pushed past 2**31 by sales or
receipts no longer fails its whole delivery on PostgreSQL. Movement references hold any order or
refund id the ledger keys (up to 255 characters). Existing values are kept as they are."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_drop_loja_indexes")]
    operations = [
        migrations.AlterField("produto", "estoque_atual", models.BigIntegerField(default=0)),
        migrations.AlterField("produto", "estoque_minimo", models.BigIntegerField(default=0)),
        migrations.AlterField("movimentacao", "quantidade", models.BigIntegerField()),
        migrations.AlterField("movimentacao", "estoque_anterior", models.BigIntegerField()),
        migrations.AlterField("movimentacao", "estoque_atual", models.BigIntegerField()),
        migrations.AlterField("movimentacao", "referencia", models.CharField(blank=True, default="", max_length=255)),
        migrations.AlterField("alerta", "estoque_atual", models.BigIntegerField()),
        migrations.AlterField("alerta", "estoque_minimo", models.BigIntegerField()),
    ]
