"""The fake Shopify sells like a store that stops selling when out of stock."""

from __future__ import annotations

import pytest

from chegouhub.devtools.fake_shopify.state import FakeShopify, OutOfStock

SHOP = "vendas-fake.myshopify.com"
TOKEN = "shpat_vendas_fake"


@pytest.fixture
def store(fake_shopify):
    fake_shopify.add_shop(SHOP, TOKEN)
    fake_shopify.add_products(SHOP, [{"title": "Caneca", "variants": [
        {"sku": "CAN-1", "title": "Azul", "available": 2, "price": "25.50"},
        {"sku": "CAN-2", "title": "Verde", "available": 0}]}])
    return fake_shopify


def _variants(fake):
    return {v["sku"]: v for v in fake.catalog(SHOP)["variants"]}


@pytest.mark.postgres
def test_a_sale_decrements_available_and_answers_the_orders_paid_payload(store):
    variant = _variants(store)["CAN-1"]
    response = store.sell(SHOP, [(variant["id"], 2)])
    assert response.status_code == 201
    order = response.json()
    line = order["line_items"][0]
    assert (line["variant_id"], line["sku"], line["quantity"]) == (variant["id"], "CAN-1", 2)
    assert line["price_set"]["shop_money"] == {"amount": "25.50", "currency_code": "BRL"}
    assert order["total_price_set"]["shop_money"] == {"amount": "51.00", "currency_code": "BRL"}
    assert order["financial_status"] == "paid" and order["currency"] == "BRL"
    assert _variants(store)["CAN-1"]["available"] == 0
    assert [o["id"] for o in store.http.get(f"/_fake/shops/{SHOP}/orders").json()["orders"]] == [order["id"]]
    assert store.counters(SHOP)["orders_placed"] == 1


@pytest.mark.postgres
def test_out_of_stock_refuses_the_whole_order(store):
    variants = _variants(store)
    response = store.sell(SHOP, [(variants["CAN-1"]["id"], 1), (variants["CAN-2"]["id"], 1)])
    assert response.status_code == 409
    assert response.json()["variant_id"] == variants["CAN-2"]["id"] and response.json()["available"] == 0
    assert _variants(store)["CAN-1"]["available"] == 2  # the line that could be sold was not
    assert store.http.get(f"/_fake/shops/{SHOP}/orders").json()["orders"] == []
    assert store.counters(SHOP)["orders_refused"] == 1
    assert store.sell(SHOP, [(variants["CAN-1"]["id"], 3)]).status_code == 409  # 2 left, 3 asked


@pytest.mark.postgres
def test_a_merchant_edit_sets_available_directly(store):
    variant = _variants(store)["CAN-2"]
    level = store.set_level(SHOP, variant["inventory_item_id"], 4)
    assert level["available"] == 4 and level["on_hand"] == 4
    assert store.sell(SHOP, [(variant["id"], 4)]).status_code == 201
    assert store.sell(SHOP, [(variant["id"], 1)]).status_code == 409


@pytest.mark.postgres
def test_place_order_in_process_sells_until_zero():
    fake = FakeShopify()
    shop = fake.add_shop("um.myshopify.com", "t", currency="usd")
    variant_id = shop.catalog.add_product("Livro", [{"sku": "LIV", "available": 1, "price": "9"}]).variant_ids[0]
    order = fake.place_order(shop, [(variant_id, 1)])
    assert order["line_items"][0]["price_set"]["shop_money"] == {"amount": "9.00", "currency_code": "USD"}
    with pytest.raises(OutOfStock):
        fake.place_order(shop, [(variant_id, 1)])
    level = shop.catalog.variants[variant_id].levels[shop.catalog.primary.id]
    assert level == {"available": 0, "on_hand": 1, "committed": 1}
