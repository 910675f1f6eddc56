"""The webhook sender: a stream with duplicates, reordering and delay, against a real server process,
leaves the stock exactly as the ledger's model says."""

from __future__ import annotations

import io

import httpx
import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from chegouhub.devtools.payloads import sample_order
from chegouhub.devtools.simulator import SimulationConfig, Simulator, simulate, webhook_url
from chegouhub.inventory.models import Mapeamento, Produto
from chegouhub.shopify.models import WebhookDelivery
from tests.devtools.fake_fixtures import register

def _catalogue(loja, make_produto):
    produtos = [make_produto(loja, f"SIM-{i}", estoque=100, minimo=5) for i in range(8)]
    Mapeamento.objects.create(loja=loja, shopify_sku="SHOPIFY-SIM-0", produto=produtos[0])
    return produtos


def _stock(loja) -> dict[int, int]:
    return dict(Produto.objects.filter(loja=loja).values_list("pk", "estoque_atual"))


@pytest.mark.live
def test_stream_with_duplicates_reordering_and_delay_matches_the_ledger_model(
        live_server_factory, make_user, make_loja, make_produto):
    loja = make_loja(make_user())
    _catalogue(loja, make_produto)
    before = _stock(loja)
    server = live_server_factory()
    config = SimulationConfig(orders=40, rate=0, duplicates=0.25, reorder=0.4, reorder_window=30, delay=0.3,
                              cancel_rate=0.2, refund_rate=0.3, concurrency=8, seed=4)

    result = simulate(loja=loja, config=config, target=server.url)

    report = result.report
    assert report.gave_up == 0 and set(report.by_status) == {200}
    assert report.by_result["duplicate"] == sum(1 for d in result.deliveries if d.duplicate)
    assert report.by_result["duplicate"] > 10 and "accepted" not in report.by_result
    topics = {d.topic for d in result.deliveries}
    assert topics == {"orders/paid", "orders/cancelled", "refunds/create"}
    skus = [li.sku for p in result.plans for li in p.lines]
    assert None in skus and any(s and s.startswith("NAO-MAPEADO") for s in skus) and "SHOPIFY-SIM-0" in skus
    # reordered: some order's later fact arrived before its paid
    first_seen: dict[int, str] = {}
    for d in result.deliveries:
        first_seen.setdefault(d.order_id, d.topic)
    assert any(topic != "orders/paid" for topic in first_seen.values())

    after = _stock(loja)
    assert after == {pk: before[pk] + result.expected.get(pk, 0) for pk in before}
    assert any(result.expected.values())
    assert WebhookDelivery.objects.filter(loja=loja, status="failed").count() == 0


@pytest.mark.live
def test_deliveries_reach_the_addresses_subscribed_in_the_fake(
        live_server_factory, fake_shopify, make_user, make_loja, make_produto):
    """End to end over real HTTP: the API (under uvicorn, the sync view runs the asyncio part in its
    worker thread) subscribes the live server in the fake; the sender delivers to those addresses."""
    owner = make_user()
    loja = make_loja(owner)
    _catalogue(loja, make_produto)
    register(fake_shopify, [loja])
    server = live_server_factory(env={"SHOPIFY_ADMIN_URL_TEMPLATE": fake_shopify.admin_url_template})
    headers = {"Authorization": f"Token {Token.objects.create(user=owner).key}"}
    r = httpx.post(f"{server.url}/api/sync-realtime/configure-webhook-single/", headers=headers, timeout=30,
                   json={"loja_id": loja.pk, "base_domain": server.url})
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = httpx.get(f"{server.url}/api/sync-realtime/test-connectivity/", params={"loja_id": loja.pk},
                  headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["conectado"] is True
    assert {s["topic"] for s in fake_shopify.subscriptions(loja.shop_domain)} == {
        "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE", "APP_UNINSTALLED"}
    before = _stock(loja)

    result = simulate(loja=loja, config=SimulationConfig(orders=15, rate=50, duplicates=0.2, seed=7),
                      fake_url=fake_shopify.url)

    assert result.report.gave_up == 0 and set(result.report.by_status) == {200}
    assert _stock(loja) == {pk: before[pk] + result.expected.get(pk, 0) for pk in before}
    orders = fake_shopify.http.get(f"/_fake/shops/{loja.shop_domain}/orders").json()["orders"]
    assert len(orders) == 15  # the fake knows the same orders, for reconciliation

    # the command, against the same server, checks the stock against the model itself
    out = io.StringIO()
    call_command("simulate_shopify", "--loja-id", str(loja.pk), "--orders", "20", "--rate", "0",
                 "--duplicates", "0.1", "--reorder", "0.2", "--target", server.url, "--seed", "3", "--check",
                 stdout=out)
    assert "Estoque confere com o modelo do ledger." in out.getvalue()


def test_model_by_hand():
    sim = Simulator(shop_domain="x.myshopify.com", secret="s" * 16, sku_to_produto={"A": 1, "B": 2},
                    config=SimulationConfig(seed=1, order_id_start=1000))
    from chegouhub.devtools.simulator import LinePlan, OrderPlan, RefundPlan

    plans = [
        OrderPlan(1, [LinePlan(10, "A", 3), LinePlan(11, "B", 2, current_quantity=1), LinePlan(12, None, 5)]),
        OrderPlan(2, [LinePlan(20, "A", 2)], cancelled=True, refunds=[RefundPlan(200, [(20, 2, "cancel")])]),
        OrderPlan(3, [LinePlan(30, "B", 4)], refunds=[RefundPlan(300, [(30, 3, "return")]),
                                                     RefundPlan(301, [(30, 3, "return")]),
                                                     RefundPlan(302, [(30, 1, "no_restock")])]),
        OrderPlan(4, [LinePlan(40, "ZZZ", 4)]),
    ]
    # A: -3 (order 1), 0 (cancelled); B: -1 (edited to 1), -4 + min(4, 6) = 0
    assert sim.expected_deltas(plans) == {1: -3, 2: -1}
    cancelled = plans[1].cancelled_payload()
    assert cancelled["cancelled_at"] and cancelled["refunds"][0]["refund_line_items"][0]["restock_type"] == "cancel"
    assert set(sample_order()) <= set(plans[0].paid_payload())  # REST Order shape


def test_webhook_url():
    assert webhook_url("http://h:1") == "http://h:1/api/estoque/webhook/shopify/"
    assert webhook_url("http://h:1/api/estoque/webhook/shopify/") == "http://h:1/api/estoque/webhook/shopify/"


def test_the_simulated_store_sells_the_fake_shops_own_variants(fake_shopify, make_user, make_loja, make_produto):
    """With the fake Shopify, orders are for the shop's variants (what its catalog import brought),
    not for whatever the loja typed in: a variant the loja has no produto for is an unmapped SKU."""
    from chegouhub.devtools.simulator import skus_from_fake, sku_map_for

    loja = make_loja(make_user())
    make_produto(loja, "SO-NO-CHEGOUHUB")
    make_produto(loja, "VAR-1")
    register(fake_shopify, [loja])
    fake_shopify.add_products(loja.shop_domain, [{"title": "Camiseta", "variants": [
        {"sku": "VAR-1", "title": "P"}, {"sku": "VAR-2", "title": "M"}, {"sku": None, "title": "G"}]}])
    sellable = skus_from_fake(fake_shopify.url, loja.shop_domain)
    assert sellable == ["VAR-1", "VAR-2"]
    simulator = Simulator(shop_domain=loja.shop_domain, secret="s", sku_to_produto=sku_map_for(loja),
                          config=SimulationConfig(orders=60, seed=5, unmapped_rate=0, no_sku_rate=0),
                          sellable_skus=sellable)
    plans = simulator.plan()
    sold = {li.sku for p in plans for li in p.lines}
    assert sold == {"VAR-1", "VAR-2"}
    # VAR-2 has no produto: the model expects nothing of it, only of VAR-1
    assert set(simulator.expected_deltas(plans)) <= {Produto.objects.get(sku="VAR-1").pk}
