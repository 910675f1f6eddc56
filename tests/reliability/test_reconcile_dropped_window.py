"""Webhooks dropped for a window, then reconciliation: the stock ends as if none had been dropped.

Two lojas receive the same stream of orders, cancellations and refunds. The reference loja gets
every webhook; the other loses every webhook of a window in the middle of the stream (endpoint
down past Shopify's retries). The fake Shopify knows all the orders. After `reconcile_orders`
the second loja's stock, movements' net effect and ledgers equal the reference's. A second run
changes nothing; the dropped webhooks arriving late after all change nothing either.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db.models import Sum

from chegouhub.devtools.payloads import order_payload, refund_payload
from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.sales.models import ValorVenda
from chegouhub.shopify.models import OrderLedger
from chegouhub.shopify.reconcile import reconcile
from tests.devtools.fake_fixtures import fake_shopify, fake_shopify_server, register  # noqa: F401

pytestmark = pytest.mark.django_db
SKUS = ["REC-A", "REC-B", "REC-C"]


def stream(n_orders: int = 30):
    """(kind, order_id, payload) in the order things happen in the shop."""
    events = []
    for i in range(n_orders):
        order_id = 700_000 + i
        lines = [(1, SKUS[i % 3], 1 + i % 3)]
        if i % 2 == 0:
            lines.append((2, SKUS[(i + 1) % 3], 1))
        events.append(("paid", order_id, order_payload(order_id, lines)))
        if i % 5 == 0:
            events.append(("cancelled", order_id, order_payload(order_id, lines, cancelled=True)))
        if i % 4 == 1:
            events.append(("refund", order_id, refund_payload(800_000 + i, order_id, [(1, 1, "return")],
                                                              amount=(f"{i}.25", "USD"))))
        if i % 7 == 3:
            events.append(("refund", order_id, refund_payload(900_000 + i, order_id, [(1, 1, "no_restock")])))
    return events


TOPIC = {"paid": "orders/paid", "cancelled": "orders/cancelled", "refund": "refunds/create"}


def to_fake(fake, shop: str, kind: str, order_id: int, payload: dict) -> None:
    if kind == "paid":
        fake.http.post(f"/_fake/shops/{shop}/orders", json=dict(payload, financial_status="paid")).raise_for_status()
    elif kind == "cancelled":
        fake.http.post(f"/_fake/shops/{shop}/orders/{order_id}/cancel").raise_for_status()
    else:
        fake.http.post(f"/_fake/shops/{shop}/refunds", json=payload).raise_for_status()


def books(loja) -> dict:
    return {
        "stock": {p.sku: p.estoque_atual for p in Produto.objects.filter(loja=loja)},
        "net": dict(Movimentacao.objects.filter(loja=loja).exclude(origem="inicial").values("produto__sku")
                    .annotate(s=Sum("quantidade")).values_list("produto__sku", "s")),
        # what each order took and gave back (a line that went -x then +x is the same as untouched)
        # what the lojas sold: reconciliation fills in the values of the orders it recovers
        "sales": sorted((v.tipo, v.referencia, str(v.valor), v.moeda, v.unidades)
                        for v in ValorVenda.objects.filter(loja=loja)),
        "ledgers": sorted((l.order_id, l.paid, l.cancelled, sorted(l.refunds),
                           sorted((k, v) for k, v in l.applied.items() if v))
                          for l in OrderLedger.objects.filter(loja=loja)),
    }


def test_reconciliation_after_dropped_webhooks_leaves_stock_as_if_none_were_dropped(
        fake_shopify, user, make_loja, make_produto, post_webhook):
    reference = make_loja(user)
    lossy = make_loja(user)
    for loja in (reference, lossy):
        for sku in SKUS:
            make_produto(loja, sku, estoque=200, minimo=3)
    register(fake_shopify, [lossy])
    started = datetime.now(UTC) - timedelta(seconds=5)
    events = stream()
    window = range(len(events) // 3, 2 * len(events) // 3)
    dropped = []
    for index, (kind, order_id, payload) in enumerate(events):
        to_fake(fake_shopify, lossy.shop_domain, kind, order_id, payload)
        assert post_webhook(reference, TOPIC[kind], payload).status_code == 200
        if index in window:
            dropped.append((kind, payload))
        else:
            assert post_webhook(lossy, TOPIC[kind], payload).status_code == 200
    assert len(dropped) >= 10
    assert books(lossy)["stock"] != books(reference)["stock"]  # the window really lost something

    call_command("reconcile_orders", "--loja-id", str(lossy.pk), "--since", started.isoformat(),
                 "--no-subscriptions")
    assert books(lossy) == books(reference)

    # idempotent: again, nothing to correct
    (again,) = reconcile(loja_id=lossy.pk, since=started, subscriptions=False)
    assert again.orders == 30 and again.corrected == [] and again.erro is None
    # the dropped webhooks arriving late after all: no effect
    for kind, payload in dropped:
        assert post_webhook(lossy, TOPIC[kind], payload).status_code == 200
    assert books(lossy) == books(reference)
