"""The GraphQL Admin API client against the fake Shopify: throttling both ways, retries, errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chegouhub.shopify import admin_api
from chegouhub.shopify.admin_api import (
    AdminApiClient,
    ShopifyAuthError,
    ShopifyNotFound,
    ShopifyQueryError,
    ShopifyUnavailable,
    ShopifyUserErrors,
)

SHOP = "cliente-teste.myshopify.com"
TOKEN = "shpat_client_test_token_123456"
ADDRESS = "https://novo.chegouhub.test/api/estoque/webhook/shopify/"


def _call(coro_fn, *, version=None, token=TOKEN, shop=SHOP, **options):
    async def run():
        async with AdminApiClient(shop_domain=shop, access_token=token, api_version=version,
                                  backoff_base=0.05, **options) as client:
            value = await coro_fn(client)
            return value, client

    return asyncio.run(run())


@pytest.fixture
def shop(fake_shopify):
    fake_shopify.add_shop(SHOP, TOKEN, bucket_size=100, restore_rate=50)
    return fake_shopify


def test_shop_query_and_url(shop, settings):
    data, client = _call(admin_api.fetch_shop)
    assert data["myshopify_domain"] == SHOP and data["nome"]
    assert client.url == shop.admin_url_template.format(shop=SHOP, version=settings.SHOPIFY_API_VERSION)
    assert client.throttle is not None and client.throttle.maximum == 100


def test_version_per_loja_overrides_the_default(shop):
    _, client = _call(admin_api.fetch_shop, version="2025-07")
    assert "/2025-07/graphql.json" in client.url and not client.uses_uri


def test_throttled_in_a_200_waits_as_throttle_status_says(shop):
    shop.set_bucket(SHOP, 0, throttle_mode="graphql")
    subs, client = _call(admin_api.list_webhook_subscriptions)
    assert subs == []
    assert client.stats.throttled >= 1 and client.stats.http_429 == 0
    # 52 points requested, 50 restored per second: about a second of waiting, not a busy loop
    assert 0.5 <= client.stats.waited_seconds <= 3
    assert client.stats.requests <= 4


def test_http_429_waits_for_retry_after(shop):
    shop.set_bucket(SHOP, 0, throttle_mode="http429")
    subs, client = _call(admin_api.list_webhook_subscriptions)
    assert subs == [] and client.stats.http_429 >= 1
    shop.fail(SHOP, "429", retry_after=0.4)
    _, client = _call(admin_api.fetch_shop)
    assert client.stats.http_429 == 1 and client.stats.waited_seconds >= 0.4


def test_known_bucket_level_is_respected_before_calling(shop):
    async def many_creates(client):
        for i in range(12):  # 120 points through a 100-point bucket restoring 50/s
            await admin_api.create_webhook_subscription(client, topic="orders/paid", address=f"{ADDRESS}?n={i}")

    _, client = _call(many_creates)
    assert client.stats.throttled == 0 and client.stats.http_429 == 0  # waited before, never refused
    assert len(shop.subscriptions(SHOP)) == 12


def test_5xx_is_retried_with_backoff(shop):
    shop.fail(SHOP, "5xx", count=2, status=502)
    data, client = _call(admin_api.fetch_shop)
    assert data["myshopify_domain"] == SHOP and client.stats.retries == 2


def test_internal_error_inside_a_200_is_retried(shop):
    shop.fail(SHOP, "internal_error")
    data, client = _call(admin_api.fetch_shop)
    assert data["myshopify_domain"] == SHOP and client.stats.retries == 1


def test_persistent_5xx_gives_a_clear_error(shop):
    shop.fail(SHOP, "5xx", count=10, status=503)
    with pytest.raises(ShopifyUnavailable, match="erro 503 após 4 tentativas"):
        _call(admin_api.fetch_shop)


def test_timeouts_are_retried(shop, settings):
    settings.SHOPIFY_HTTP_TIMEOUT = 0.3
    shop.fail(SHOP, "timeout", delay=1.0)
    data, client = _call(admin_api.fetch_shop)
    assert data["myshopify_domain"] == SHOP and client.stats.retries == 1
    shop.fail(SHOP, "timeout", delay=1.0, count=5)
    with pytest.raises(ShopifyUnavailable, match="tempo esgotado"):
        _call(admin_api.fetch_shop, max_attempts=2)


def test_user_errors_are_reported_in_clear_words(shop):
    shop.fail(SHOP, "user_errors", message="Address cannot be a Shopify or an internal domain",
              field=["webhookSubscription", "uri"], operation="webhookSubscriptionCreate")

    async def create(client):
        return await admin_api.create_webhook_subscription(client, topic="orders/paid", address=ADDRESS)

    with pytest.raises(ShopifyUserErrors) as info:
        _call(create)
    text = str(info.value)
    assert "orders/paid" in text and "Address cannot be a Shopify or an internal domain" in text
    assert "webhookSubscription.uri" in text and TOKEN not in text
    # real validation of the fake: a Shopify address and a duplicate are refused too
    sub, _ = _call(create)
    assert sub.topic == "orders/paid" and sub.address == ADDRESS
    with pytest.raises(ShopifyUserErrors, match="already been taken"):
        _call(create)


def test_rejected_token_and_unknown_shop(shop, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ShopifyAuthError, match="recusou o token") as info:
        _call(admin_api.fetch_shop, token="shpat_wrong_token_999999")
    assert "shpat_wrong_token_999999" not in str(info.value)
    with pytest.raises(ShopifyNotFound, match="não encontrou a loja"):
        _call(admin_api.fetch_shop, shop="nao-existe.myshopify.com")
    assert "shpat_wrong_token_999999" not in caplog.text and TOKEN not in caplog.text


def test_pagination_follows_page_info(shop):
    for i in range(120):
        shop.add_subscription(SHOP, "ORDERS_PAID", f"https://x{i}.test/h")
    subs, client = _call(admin_api.list_webhook_subscriptions)
    assert len(subs) == 120 and len({s.id for s in subs}) == 120
    assert client.stats.requests >= 3  # three pages of 50


def test_graphql_errors_are_clear(shop):
    async def bad(client):
        return await client.execute("{ shop { nome } }")

    with pytest.raises(ShopifyQueryError, match="Cannot query field 'nome'"):
        _call(bad)

    async def malformed(client):
        return await client.execute("{ shop { name ")

    with pytest.raises(ShopifyQueryError, match="Syntax Error"):
        _call(malformed)


def test_topic_names():
    assert admin_api.topic_to_enum("orders/paid") == "ORDERS_PAID"
    assert admin_api.topic_to_enum("app/uninstalled") == "APP_UNINSTALLED"
    assert admin_api.enum_to_topic("REFUNDS_CREATE") == "refunds/create"
    assert admin_api.enum_to_topic("INVENTORY_LEVELS_UPDATE") == "inventory_levels/update"


def test_client_repr_has_no_token():
    client = AdminApiClient(shop_domain=SHOP, access_token=TOKEN)
    assert TOKEN not in repr(client)


def test_orders_updated_since_rebuild_the_rest_facts(shop):
    """The reconciliation read: orders with line items and refunds, paginated, filtered by updated_at."""
    from chegouhub.devtools.payloads import order_payload, refund_payload
    from chegouhub.shopify import ledger

    shop.add_shop(SHOP, TOKEN, bucket_size=1000, restore_rate=50)
    for n in range(12):
        shop.http.post(f"/_fake/shops/{SHOP}/orders",
                       json=order_payload(5000 + n, [(1, "A", 2), (2, None, 1)], current_quantities={1: 2}))
    shop.http.post(f"/_fake/shops/{SHOP}/refunds", json=refund_payload(900, 5003, [(1, 1, "return")]))
    shop.http.post(f"/_fake/shops/{SHOP}/orders/5004/cancel")

    async def fetch(client):
        return await admin_api.fetch_orders_updated_since(client, "2020-01-01T00:00:00Z")

    orders, client = _call(fetch)
    assert [o["id"] for o in orders if o["id"] not in (5003, 5004)] == [5000 + n for n in range(12) if n not in (3, 4)]
    assert len(orders) == 12 and client.stats.requests == 2  # two pages of 10
    by_id = {o["id"]: o for o in orders}
    assert by_id[5000]["line_items"] == [{"id": 1, "sku": "A", "quantity": 2, "current_quantity": 2},
                                         {"id": 2, "sku": None, "quantity": 1, "current_quantity": 1}]
    assert ledger.refund_restocks(by_id[5003]["refunds"][0]) == {"1": 1}
    assert by_id[5004]["cancelled_at"] and by_id[5000]["cancelled_at"] is None
    later, _ = _call(lambda c: admin_api.fetch_orders_updated_since(c, "2999-01-01T00:00:00Z"))
    assert later == []
