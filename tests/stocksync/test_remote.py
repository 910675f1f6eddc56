"""Stock sync's Shopify calls against the fake Shopify over real HTTP: set, stale, idempotency, reads, throttling."""

from __future__ import annotations

import asyncio

import pytest

from chegouhub.shopify.admin_api import AdminApiClient
from chegouhub.stocksync.remote import QuantityChange, read_available, set_quantities

pytestmark = pytest.mark.postgres  # independent of the database: once is enough

SHOP = "sync-teste.myshopify.com"
TOKEN = "shpat_sync_test_token_123456"
URI = "gid://chegouhub/Movimentacao/1"


def _call(coro_fn):
    async def run():
        async with AdminApiClient(shop_domain=SHOP, access_token=TOKEN, backoff_base=0.05) as client:
            return await coro_fn(client), client

    return asyncio.run(run())


@pytest.fixture
def shop(fake_shopify):
    fake_shopify.add_shop(SHOP, TOKEN, bucket_size=1000, restore_rate=100)
    fake_shopify.add_products(SHOP, [{"title": "Camisa", "variants": [
        {"sku": "CAM-P", "title": "P", "available": 5}, {"sku": "CAM-M", "title": "M", "available": 3}]}])
    return fake_shopify


def _catalog(fake):
    catalog = fake.catalog(SHOP)
    location = next(loc["id"] for loc in catalog["locations"] if loc["primary"])
    return location, {v["sku"]: v for v in catalog["variants"]}


def _available(fake) -> dict[str, int]:
    return {sku: v["available"] for sku, v in _catalog(fake)[1].items()}


def _set(location, changes, key):
    return _call(lambda c: set_quantities(c, location_id=location, changes=changes, idempotency_key=key,
                                          reference_uri=URI))


def test_set_applies_every_change_and_reports_quantity_after(shop):
    location, variants = _catalog(shop)
    p, m = variants["CAM-P"]["inventory_item_id"], variants["CAM-M"]["inventory_item_id"]
    result, _ = _set(location, [QuantityChange(p, 9, 5), QuantityChange(m, 0, 3)], "mov-1")
    assert result.applied == {p: 9, m: 0} and result.stale == [] and result.errors == []
    assert result.cost == 10
    assert _available(shop) == {"CAM-P": 9, "CAM-M": 0}
    counters = shop.counters(SHOP)
    assert counters["set_quantities_calls"] == 1 and counters["quantities_set"] == 2 and counters["cost_spent"] == 10


def test_stale_changes_nothing_then_reread_and_retry_succeeds(shop):
    location, variants = _catalog(shop)
    p, m = variants["CAM-P"]["inventory_item_id"], variants["CAM-M"]["inventory_item_id"]
    shop.set_level(SHOP, p, 7)  # the merchant edited it in the admin: we still believe 5
    result, _ = _set(location, [QuantityChange(m, 1, 3), QuantityChange(p, 4, 5)], "mov-2")
    assert result.stale == [p] and result.applied == {} and result.errors == []
    assert _available(shop) == {"CAM-P": 7, "CAM-M": 3}  # all or nothing

    current, _ = _call(lambda c: read_available(c, location_id=location, inventory_item_ids=[p, m]))
    assert current == {p: 7, m: 3}
    retry, _ = _set(location, [QuantityChange(m, 1, current[m]), QuantityChange(p, 4, current[p])], "mov-2:1")
    assert retry.applied == {p: 4, m: 1} and retry.stale == []
    assert _available(shop) == {"CAM-P": 4, "CAM-M": 1}
    assert shop.counters(SHOP)["stale"] == 1


def test_idempotent_replay_returns_the_first_answer_without_applying_again(shop):
    location, variants = _catalog(shop)
    p = variants["CAM-P"]["inventory_item_id"]
    first, _ = _set(location, [QuantityChange(p, 10, None)], "mov-3")
    assert first.applied == {p: 10}
    assert shop.sell(SHOP, [(variants["CAM-P"]["id"], 2)]).status_code == 201  # a sale after the push
    again, _ = _set(location, [QuantityChange(p, 10, None)], "mov-3")  # a retry of the same request
    assert again.applied == {p: 10}
    assert _available(shop)["CAM-P"] == 8  # not set back to 10
    counters = shop.counters(SHOP)
    assert counters["idempotent_replays"] == 1 and counters["quantities_set"] == 1


def test_same_key_with_another_input_is_refused(shop):
    location, variants = _catalog(shop)
    p = variants["CAM-P"]["inventory_item_id"]
    _set(location, [QuantityChange(p, 6, 5)], "mov-4")
    result, _ = _set(location, [QuantityChange(p, 2, 6)], "mov-4")
    assert result.applied == {} and result.stale == []
    assert len(result.errors) == 1 and result.errors[0].startswith("IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
    assert TOKEN not in result.errors[0]
    assert _available(shop)["CAM-P"] == 6


def test_a_request_still_in_progress_is_reported_as_retryable(shop):
    location, variants = _catalog(shop)
    shop.fail(SHOP, "idempotency_concurrent")
    result, _ = _set(location, [QuantityChange(variants["CAM-P"]["inventory_item_id"], 1, 5)], "mov-5")
    assert result.retryable and result.applied == {}
    assert _available(shop)["CAM-P"] == 5


def test_more_than_250_changes_are_refused_before_any_call(shop):
    location, _ = _catalog(shop)
    with pytest.raises(ValueError, match="250"):
        _set(location, [QuantityChange(i, 1, None) for i in range(1, 252)], "mov-6")
    assert shop.counters(SHOP)["graphql_calls"] == 0


def test_a_throttled_answer_is_retried_once_the_bucket_refills(shop):
    location, variants = _catalog(shop)
    p = variants["CAM-P"]["inventory_item_id"]
    shop.set_bucket(SHOP, -30)  # 0.4 s of refill short: throttled even on a slow machine
    result, client = _set(location, [QuantityChange(p, 3, 5)], "mov-7")
    assert result.applied == {p: 3}
    assert client.stats.throttled >= 1 and client.stats.waited_seconds < 2
    assert shop.counters(SHOP)["throttled"] >= 1


def test_read_available_in_chunks_of_250_and_none_for_unknown_items(shop):
    shop.generate_catalog(SHOP, 300, per_product=10, prefix="GEN")
    location, variants = _catalog(shop)
    items = {v["inventory_item_id"]: v["available"] for v in variants.values()}
    before = shop.counters(SHOP)["graphql_calls"]
    found, _ = _call(lambda c: read_available(c, location_id=location, inventory_item_ids=[*items, 1]))
    assert found == {**items, 1: None}
    assert shop.counters(SHOP)["graphql_calls"] - before == 2  # 303 ids
