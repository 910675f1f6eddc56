"""Orders applied before sale values were recorded: one value row each, without a value, so the
summary says how many there are (`sem_valor`) instead of pretending they sold nothing."""

from django.db import migrations


def mark_orders_without_value(apps, schema_editor):
    OrderLedger = apps.get_model("shopify", "OrderLedger")
    ValorVenda = apps.get_model("sales", "ValorVenda")
    batch = []
    for ledger in OrderLedger.objects.filter(paid=True).iterator():
        units = sum(int(line.get("quantidade") or 0) for line in (ledger.paid_lines or {}).values())
        batch.append(ValorVenda(loja_id=ledger.loja_id, order_id=ledger.order_id, tipo="pedido",
                                referencia=str(ledger.order_id), valor=None, moeda="", unidades=units,
                                ocorrido_em=ledger.updated_at))
        if len(batch) >= 1000:
            ValorVenda.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    ValorVenda.objects.bulk_create(batch, ignore_conflicts=True)


def unmark(apps, schema_editor):
    apps.get_model("sales", "ValorVenda").objects.filter(valor__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial"), ("shopify", "0005_reconcilecursor")]
    operations = [migrations.RunPython(mark_orders_without_value, unmark)]
