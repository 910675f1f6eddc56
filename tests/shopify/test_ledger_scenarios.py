"""The cases that broke other systems, each spelled out."""

from __future__ import annotations

import pytest

from chegouhub.devtools.payloads import order_payload, refund_payload
from chegouhub.inventory.models import Movimentacao, Produto
from tests.devtools.fake_fixtures import fake_shopify, fake_shopify_server  # noqa: F401

pytestmark = pytest.mark.django_db


def stock(p) -> int:
    return Produto.objects.get(pk=p.pk).estoque_atual


@pytest.fixture
def camisa(loja, make_produto):
    return make_produto(loja, "CAMISA", estoque=10, minimo=0)


def test_cancel_with_restock_that_also_fires_a_cancel_refund_restocks_once(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(1, [(11, "CAMISA", 3)]))
    post_webhook(loja, "orders/cancelled", order_payload(1, [(11, "CAMISA", 3)], cancelled=True))
    post_webhook(loja, "refunds/create", refund_payload(900, 1, [(11, 3, "cancel")]))
    assert stock(camisa) == 10
    origins = list(Movimentacao.objects.filter(produto=camisa).exclude(origem="inicial")
                   .values_list("origem", "quantidade"))
    assert sorted(origins) == [("shopify_pedido_cancelado", 3), ("shopify_pedido_pago", -3)]


def test_refund_then_cancel_in_either_order(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(2, [(21, "CAMISA", 3)]))
    post_webhook(loja, "refunds/create", refund_payload(901, 2, [(21, 3, "cancel")]))
    post_webhook(loja, "orders/cancelled", order_payload(2, [(21, "CAMISA", 3)], cancelled=True))
    assert stock(camisa) == 10


def test_partial_refund_followed_by_cancel(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(3, [(31, "CAMISA", 3)]))
    post_webhook(loja, "refunds/create", refund_payload(902, 3, [(31, 1, "return")]))
    assert stock(camisa) == 8
    post_webhook(loja, "orders/cancelled", order_payload(3, [(31, "CAMISA", 3)], cancelled=True))
    assert stock(camisa) == 10


def test_cancel_before_paid_means_paid_takes_nothing(loja, camisa, post_webhook):
    post_webhook(loja, "orders/cancelled", order_payload(4, [(41, "CAMISA", 3)], cancelled=True))
    post_webhook(loja, "orders/paid", order_payload(4, [(41, "CAMISA", 3)]))
    assert stock(camisa) == 10
    assert not Movimentacao.objects.filter(produto=camisa).exclude(origem="inicial").exists()


def test_refund_before_paid_is_remembered(loja, camisa, post_webhook):
    post_webhook(loja, "refunds/create", refund_payload(903, 5, [(51, 2, "return")]))
    assert stock(camisa) == 10
    post_webhook(loja, "orders/paid", order_payload(5, [(51, "CAMISA", 3)]))
    assert stock(camisa) == 9


def test_refunds_never_put_back_more_than_was_taken(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(6, [(61, "CAMISA", 2)]))
    post_webhook(loja, "refunds/create", refund_payload(904, 6, [(61, 2, "return")]))
    post_webhook(loja, "refunds/create", refund_payload(905, 6, [(61, 2, "legacy_restock")]))
    assert stock(camisa) == 10


def test_same_refund_twice_under_new_ids_restocks_once(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(7, [(71, "CAMISA", 3)]))
    refund = refund_payload(906, 7, [(71, 1, "return")])
    post_webhook(loja, "refunds/create", refund)
    post_webhook(loja, "refunds/create", refund)
    assert stock(camisa) == 8


def test_current_quantity_wins_over_quantity(loja, camisa, post_webhook):
    post_webhook(loja, "orders/paid", order_payload(8, [(81, "CAMISA", 3)], current_quantities={81: 1}))
    assert stock(camisa) == 9


def test_a_day_late_paid_after_cancel_and_refund_changes_nothing(loja, camisa, post_webhook):
    post_webhook(loja, "refunds/create", refund_payload(907, 9, [(91, 3, "cancel")]))
    post_webhook(loja, "orders/cancelled", order_payload(9, [(91, "CAMISA", 3)], cancelled=True))
    post_webhook(loja, "orders/paid", order_payload(9, [(91, "CAMISA", 3)]))
    assert stock(camisa) == 10


def _refund_without_transactions(refund_id: int, order_id: int, line_id: int) -> dict:
    """A refund whose webhook carries no transaction: its value is its lines' subtotal and tax."""
    refund = refund_payload(refund_id, order_id, [(line_id, 1, "return")])
    for item in refund["refund_line_items"]:
        item["subtotal_set"] = {"shop_money": {"amount": "8.00", "currency_code": "BRL"}}
        item["total_tax_set"] = {"shop_money": {"amount": "1.00", "currency_code": "BRL"}}
    return refund


@pytest.mark.parametrize("reconcile_first", [False, True], ids=["webhook-first", "reconcile-first"])
def test_a_refund_without_transactions_is_valued_whoever_saw_it_first(
        reconcile_first, fake_shopify, loja, camisa, post_webhook, api):
    """Issue 28: when reconcile_orders saw the refund first (no transactions, so no value), its
    webhook later never valued it, and `liquido` read 20.00 instead of 11.00."""
    from tests.devtools.fake_fixtures import register
    from chegouhub.shopify.reconcile import reconcile

    register(fake_shopify, [loja])
    paid = order_payload(30, [(301, "CAMISA", 2)], total=("20.00", "BRL"))
    refund = _refund_without_transactions(3001, 30, 301)
    fake_shopify.http.post(f"/_fake/shops/{loja.shop_domain}/orders",
                           json=dict(paid, financial_status="paid")).raise_for_status()
    fake_shopify.http.post(f"/_fake/shops/{loja.shop_domain}/refunds", json=refund).raise_for_status()
    post_webhook(loja, "orders/paid", paid)
    if reconcile_first:
        (result,) = reconcile(loja_id=loja.pk, subscriptions=False)
        assert result.erro is None and result.corrected == [30]
    assert post_webhook(loja, "refunds/create", refund).json() == {"status": "processed"}
    if not reconcile_first:
        reconcile(loja_id=loja.pk, subscriptions=False)
    assert stock(camisa) == 9
    (moeda,) = api.get("/api/vendas/resumo/", {"loja_id": loja.pk, "days": 1}).json()["moedas"]
    assert (moeda["bruto"], moeda["reembolsado"], moeda["liquido"]) == ("20.00", "9.00", "11.00")
