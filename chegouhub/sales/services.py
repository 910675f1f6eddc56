"""Writing sale values: the rows the ledger's settlement decided (ledger.settle -> `values`)."""

from __future__ import annotations

from django.utils import timezone

from .models import ValorVenda


def record_sale_values(*, loja_id: int, order_id: int, values: list) -> None:
    """Inside the caller's transaction; a row already there (a replay) is left as it is."""
    if not values:
        return
    now = timezone.now()
    ValorVenda.objects.bulk_create(
        [ValorVenda(loja_id=loja_id, order_id=order_id, tipo=v.tipo, referencia=v.referencia,
                    valor=v.value.shop.amount if v.value else None, moeda=v.value.shop.currency if v.value else "",
                    valor_apresentado=v.value.presented.amount if v.value and v.value.presented else None,
                    moeda_apresentada=v.value.presented.currency if v.value and v.value.presented else "",
                    unidades=v.unidades, ocorrido_em=(v.value.at if v.value else None) or now)
         for v in values],
        ignore_conflicts=True,
    )
