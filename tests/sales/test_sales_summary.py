"""Sales values (CONTRACT section 12): recorded once with the ledger's facts, on every path, and
summed exactly per currency; converted at the user's own rates in force on each sale's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from chegouhub.devtools.payloads import encode, order_payload, refund_payload, signed_headers
from chegouhub.realtime.models import Event
from chegouhub.sales.models import TaxaCambio, ValorVenda

pytestmark = [pytest.mark.django_db(transaction=True)]
URL = "/api/estoque/webhook/shopify/"
@pytest.fixture
def asgi(webhook_asgi):
    return webhook_asgi  # tests/conftest.py: once per server path


async def send(asgi, loja, topic, payload, webhook_id=None):
    body = encode(payload)
    headers = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic,
                             webhook_id=webhook_id)
    r = await asgi.post(URL, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["status"]


@sync_to_async
def summary(user, **params):
    client = APIClient()
    client.force_authenticate(user)
    r = client.get("/api/vendas/resumo/", params)
    assert r.status_code == 200, r.content
    return r.json()


def by_currency(result) -> dict:
    return {m["moeda"]: {k: m[k] for k in ("pedidos", "unidades", "bruto", "reembolsado", "liquido")}
            for m in result["moedas"]}


async def test_orders_in_four_currencies_with_refunds_cancellations_and_repeats_sum_exactly(
        asgi, user, make_loja, make_produto):
    brl, usd, jpy, kwd = [await sync_to_async(make_loja)(user) for _ in range(4)]
    for loja in (brl, usd, jpy, kwd):
        await sync_to_async(make_produto)(loja, "SKU", estoque=1000, minimo=0)
    deliveries = [
        (brl, "orders/paid", order_payload(1, [(1, "SKU", 2)], total=("199.90", "BRL")), "p1"),
        (brl, "orders/paid", order_payload(2, [(1, "SKU", 1)], total=("0.10", "BRL")), "p2"),
        (brl, "refunds/create", refund_payload(21, 1, [(1, 1, "return")], amount=("99.95", "BRL")), "r21"),
        (usd, "orders/paid", order_payload(3, [(1, "SKU", 3)], total=("10.00", "USD"), presented=("52.30", "BRL")),
         "p3"),
        (usd, "orders/cancelled", order_payload(3, [(1, "SKU", 3)], cancelled=True), "c3"),
        (usd, "refunds/create", refund_payload(31, 3, [(1, 3, "cancel")], amount=("10.00", "USD")), "r31"),
        (jpy, "orders/paid", order_payload(4, [(1, "SKU", 1)], total=("3550", "JPY")), "p4"),
        (jpy, "refunds/create", refund_payload(41, 4, [(1, 1, "no_restock")], amount=("1000", "JPY")), "r41"),
        (kwd, "orders/paid", order_payload(5, [(1, "SKU", 1)], total=("12.345", "KWD")), "p5"),
        (kwd, "orders/paid", order_payload(6, [(1, "SKU", 4)], total=("0.005", "KWD")), "p6"),
    ]
    # reordered (refunds first), then every delivery again, and replays under new ids
    order = [2, 5, 7, 0, 1, 3, 4, 6, 8, 9]
    for i in order:
        await send(asgi, *deliveries[i][:3], webhook_id=deliveries[i][3])
    for loja, topic, payload, wid in deliveries:
        assert await send(asgi, loja, topic, payload, webhook_id=wid) == "duplicate"
        assert await send(asgi, loja, topic, payload, webhook_id=wid + "-replay") == "processed"
    result = await summary(user, days=1)
    assert by_currency(result) == {
        "BRL": {"pedidos": 2, "unidades": 3, "bruto": "200.00", "reembolsado": "99.95", "liquido": "100.05"},
        "USD": {"pedidos": 1, "unidades": 3, "bruto": "10.00", "reembolsado": "10.00", "liquido": "0.00"},
        "JPY": {"pedidos": 1, "unidades": 1, "bruto": "3550", "reembolsado": "1000", "liquido": "2550"},
        "KWD": {"pedidos": 2, "unidades": 5, "bruto": "12.350", "reembolsado": "0.000", "liquido": "12.350"},
    }
    assert result["sem_valor"] == 0
    assert await sync_to_async(ValorVenda.objects.count)() == 10 - 1  # the cancellation itself is no value
    # the sale event carries both currencies, as decimal strings
    sale = await sync_to_async(lambda: Event.objects.filter(type="venda_shopify_processada",
                                                            data__order_id=3).get())()
    assert sale.data["valor"] == {"total": "10.00", "moeda": "USD", "total_apresentado": "52.30",
                                  "moeda_apresentada": "BRL"}


async def test_totals_convert_at_the_rate_in_force_on_each_sales_day(asgi, user, make_loja, make_produto):
    loja = await sync_to_async(make_loja)(user)
    await sync_to_async(make_produto)(loja, "SKU", estoque=1000, minimo=0)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    await send(asgi, loja, "orders/paid", order_payload(11, [(1, "SKU", 1)], total=("10.00", "USD"), at=yesterday))
    await send(asgi, loja, "orders/paid", order_payload(12, [(1, "SKU", 1)], total=("10.00", "USD"), at=today))
    await send(asgi, loja, "orders/paid", order_payload(13, [(1, "SKU", 1)], total=("5.555", "KWD"), at=today))
    await send(asgi, loja, "refunds/create", refund_payload(121, 12, [(1, 1, "return")], amount=("3.33", "USD"),
                                                            at=today))

    @sync_to_async
    def rates():
        for moeda, taxa, since in (("USD", "5.1234", yesterday.date() - timedelta(days=10)),
                                   ("USD", "5.5000", today.date())):
            TaxaCambio.objects.create(owner=user, moeda=moeda, moeda_relatorio="BRL", taxa=taxa, vigente_desde=since)

    await rates()
    result = await summary(user, days=3, agrupar="dia")
    # 10.00 x 5.1234 = 51.234 -> 51.23 (half-even); 10.00 x 5.5 = 55.00; refund 3.33 x 5.5 = 18.315 -> 18.32
    assert result["convertido"] == {"moeda": "BRL", "bruto": "106.23", "reembolsado": "18.32", "liquido": "87.91",
                                    "formatado": {"liquido": "R$\xa087,91"}, "sem_taxa": ["KWD"]}
    usd = next(m for m in result["moedas"] if m["moeda"] == "USD")
    assert [(p["pedidos"], p["bruto"], p["liquido"]) for p in usd["serie"]] == [(1, "10.00", "10.00"),
                                                                               (1, "10.00", "6.67")]
    assert usd["formatado"] == {"bruto": "US$\xa020,00", "liquido": "US$\xa016,67"}


def test_rates_are_the_users_own_and_validated(user, other_user):
    client = APIClient()
    client.force_authenticate(user)
    ok = client.post("/api/cambio/", {"moeda": "usd", "taxa": "5.25", "vigente_desde": "2026-12-01"}, format="json")
    assert ok.status_code == 201 and ok.json()["moeda"] == "USD" and ok.json()["moeda_relatorio"] == "BRL"
    assert client.post("/api/cambio/", {"moeda": "XYZ", "taxa": "1", "vigente_desde": "2026-12-01"},
                       format="json").json()["campos"].keys() >= {"moeda"}
    assert client.post("/api/cambio/", {"moeda": "USD", "taxa": "-1", "vigente_desde": "2026-12-01"},
                       format="json").status_code == 400
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get("/api/cambio/").json()["count"] == 0
    assert other.delete(f"/api/cambio/{ok.json()['id']}/").status_code == 404
    assert TaxaCambio.objects.get().vigente_desde == date(2026, 12, 1)


def test_orders_from_before_values_existed_are_counted_as_without_value(user, make_loja):
    from chegouhub.sales.models import TipoValor

    loja = make_loja(user)
    ValorVenda.objects.create(loja=loja, order_id=1, tipo=TipoValor.PEDIDO, referencia="1",
                              ocorrido_em=datetime.now(UTC))
    client = APIClient()
    client.force_authenticate(user)
    result = client.get("/api/vendas/resumo/", {"days": 7}).json()
    assert result["sem_valor"] == 1 and result["moedas"] == []
    assert client.get("/api/vendas/resumo/", {"moeda_relatorio": "ZZZ"}).status_code == 400
