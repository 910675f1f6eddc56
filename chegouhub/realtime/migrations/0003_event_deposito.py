"""The stock stream's scope becomes the depósito (CONTRACT 10). Existing stock events take their
loja's depósito (one per loja after stores 0005), so every resume cursor keeps its meaning."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def stock_events_into_their_lojas_deposito(apps, schema_editor):
    Event = apps.get_model("realtime", "Event")
    Loja = apps.get_model("stores", "Loja")
    Event.objects.filter(stream="estoque", deposito__isnull=True, loja__isnull=False).update(
        deposito=Subquery(Loja.objects.filter(pk=OuterRef("loja_id")).values("deposito_id")[:1]))


class Migration(migrations.Migration):
    dependencies = [("realtime", "0002_drop_redundant_indexes"), ("stores", "0005_deposito")]

    operations = [
        migrations.AddField(
            model_name="event", name="deposito",
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                    to="stores.deposito"),
        ),
        migrations.RunPython(stock_events_into_their_lojas_deposito, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["deposito", "stream", "id"], name="realtime_ev_deposit_3a5607_idx"),
        ),
    ]
