"""`/api/vendas/resumo/`: sales per shop currency, a time series, and totals converted at the
user's own rates (CONTRACT section 12). Exact decimals throughout."""

from __future__ import annotations

import bisect
from datetime import timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from . import money
from .models import TaxaCambio, TipoValor, ValorVenda


def _bucket(at, group: str):
    local = timezone.localtime(at)
    if group == "hora":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _rates(user, report: str) -> dict[str, tuple[list, list]]:
    """{moeda: (sorted vigente_desde dates, their rates)} into the reporting currency."""
    table: dict[str, tuple[list, list]] = {}
    for rate in TaxaCambio.objects.filter(owner_id=user.pk, moeda_relatorio=report).order_by("vigente_desde"):
        dates, taxas = table.setdefault(rate.moeda, ([], []))
        dates.append(rate.vigente_desde)
        taxas.append(rate.taxa)
    return table


def _rate_on(table, currency: str, day) -> Decimal | None:
    dates, taxas = table.get(currency, ([], []))
    i = bisect.bisect_right(dates, day)
    return taxas[i - 1] if i else None


def sales_summary(*, user, days: int, loja_id: int | None = None, group: str = "dia",
                  report_currency: str = "BRL") -> dict:
    """Money sums in money.exact_sums(): stored rates and amounts of any size (that the columns
    hold) give exact totals, never a decimal error."""
    with money.exact_sums():
        return _summary(user=user, days=days, loja_id=loja_id, group=group, report_currency=report_currency)


def _summary(*, user, days: int, loja_id: int | None, group: str, report_currency: str) -> dict:
    since = timezone.now() - timedelta(days=days)
    rows = ValorVenda.objects.filter(loja__owner_id=user.pk, ocorrido_em__gte=since)
    if loja_id is not None:
        rows = rows.filter(loja_id=loja_id)
    sem_valor = rows.filter(tipo=TipoValor.PEDIDO, valor__isnull=True).count()
    per: dict[str, dict] = {}
    table = _rates(user, report_currency)
    converted = {"bruto": Decimal(0), "reembolsado": Decimal(0)}
    sem_taxa: set[str] = set()
    for tipo, valor, moeda, unidades, at in rows.exclude(Q(valor__isnull=True)).order_by("ocorrido_em").values_list(
            "tipo", "valor", "moeda", "unidades", "ocorrido_em"):
        entry = per.setdefault(moeda, {"pedidos": 0, "unidades": 0, "bruto": Decimal(0), "reembolsado": Decimal(0),
                                       "serie": {}})
        point = entry["serie"].setdefault(_bucket(at, group), {"pedidos": 0, "bruto": Decimal(0),
                                                               "reembolsado": Decimal(0)})
        key = "bruto" if tipo == TipoValor.PEDIDO else "reembolsado"
        entry[key] += valor
        point[key] += valor
        if tipo == TipoValor.PEDIDO:
            entry["pedidos"] += 1
            entry["unidades"] += unidades
            point["pedidos"] += 1
        rate = Decimal(1) if moeda == report_currency else _rate_on(table, moeda, timezone.localtime(at).date())
        if rate is None:
            sem_taxa.add(moeda)
        else:
            converted[key] += money.convert(valor, moeda, rate, report_currency)
    moedas = []
    for moeda in sorted(per):
        e = per[moeda]
        liquido = e["bruto"] - e["reembolsado"]
        moedas.append({
            "moeda": moeda, "pedidos": e["pedidos"], "unidades": e["unidades"],
            "bruto": money.money_text(e["bruto"], moeda), "reembolsado": money.money_text(e["reembolsado"], moeda),
            "liquido": money.money_text(liquido, moeda),
            "formatado": {"bruto": money.pt_br(e["bruto"], moeda), "liquido": money.pt_br(liquido, moeda)},
            "serie": [{"inicio": start.isoformat(), "pedidos": p["pedidos"],
                       "bruto": money.money_text(p["bruto"], moeda),
                       "liquido": money.money_text(p["bruto"] - p["reembolsado"], moeda)}
                      for start, p in sorted(e["serie"].items())],
        })
    liquido = converted["bruto"] - converted["reembolsado"]
    return {
        "dias": days,
        "moedas": moedas,
        "convertido": {
            "moeda": report_currency,
            "bruto": money.money_text(converted["bruto"], report_currency),
            "reembolsado": money.money_text(converted["reembolsado"], report_currency),
            "liquido": money.money_text(liquido, report_currency),
            "formatado": {"liquido": money.pt_br(liquido, report_currency)},
            "sem_taxa": sorted(sem_taxa),
        },
        "sem_valor": sem_valor,
    }
