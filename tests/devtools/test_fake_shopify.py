"""The fake Shopify itself: schema, errors, cost and leaky bucket, versions, orders."""

from __future__ import annotations

import json
import time

import pytest

from chegouhub.devtools.fake_shopify.server import build_fake
from chegouhub.devtools.fake_shopify.state import FakeShopify
from chegouhub.devtools.payloads import order_payload, refund_payload

SHOP = "fake-teste.myshopify.com"
TOKEN = "shpat_fake_test"
CREATE = """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri } userErrors { field message } } }"""


@pytest.fixture
def fake():
    f = FakeShopify(bucket_size=1000, restore_rate=50)
    f.add_shop(SHOP, TOKEN)
    return f


def gql(fake, query, variables=None, *, version="2025-10", token=TOKEN, shop=SHOP):
    reply = fake.handle_graphql(shop_domain=shop, version=version, token=token,
                                body=json.dumps({"query": query, "variables": variables or {}}).encode())
    return reply


def test_malformed_and_invalid_queries_fail_as_on_shopify(fake):
    r = gql(fake, "{ shop { name ")
    assert r.status == 200 and "data" not in r.body and r.body["errors"][0]["locations"]
    r = gql(fake, "{ shop { nome } }")
    assert r.status == 200 and "Cannot query field 'nome' on type 'Shop'" in r.body["errors"][0]["message"]
    r = gql(fake, "{ webhookSubscriptions { nodes { id } } }")
    assert r.body["errors"][0]["message"] == "you must provide one of first or last"
    r = gql(fake, CREATE, {"topic": "ORDERS_PAID", "sub": {"callbackUrl": "https://a.test/h"}})
    assert "callbackUrl" in r.body["errors"][0]["message"]  # 2025-10 takes `uri`
    r = gql(fake, CREATE, {"topic": "ORDERS_REFUNDED", "sub": {"uri": "https://a.test/h"}})
    assert "ORDERS_REFUNDED" in r.body["errors"][0]["message"]  # not a Shopify topic


def test_auth_and_unknown_shop(fake):
    assert gql(fake, "{ shop { name } }", token="wrong").status == 401
    assert gql(fake, "{ shop { name } }", token=None).status == 401
    assert gql(fake, "{ shop { name } }", shop="x.myshopify.com").status == 404
    assert gql(fake, "{ shop { name } }", version="2025-13").status == 404


def test_versions_choose_uri_or_callback_url(fake):
    r = gql(fake, CREATE.replace("uri }", "endpoint { ... on WebhookHttpEndpoint { callbackUrl } } }"),
            {"topic": "ORDERS_PAID", "sub": {"callbackUrl": "https://a.test/h"}}, version="2025-07")
    assert r.body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    r = gql(fake, "{ webhookSubscriptions(first: 5) { nodes { uri } } }", version="2025-07")
    assert "Cannot query field 'uri'" in r.body["errors"][0]["message"]
    r = gql(fake, "{ webhookSubscriptions(first: 5) { nodes { uri callbackUrl } } }")
    assert r.body["data"]["webhookSubscriptions"]["nodes"] == [{"uri": "https://a.test/h", "callbackUrl": "https://a.test/h"}]


def test_user_errors_of_shopify(fake):
    ok = gql(fake, CREATE, {"topic": "ORDERS_PAID", "sub": {"uri": "https://a.test/h"}})
    assert ok.body["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["topic"] == "ORDERS_PAID"
    for uri, message in [("https://a.test/h", "Address for this topic has already been taken"),
                         ("https://loja.myshopify.com/h", "Address cannot be a Shopify or an internal domain"),
                         ("", "Address can't be blank"), ("nota url", "Address is invalid")]:
        r = gql(fake, CREATE, {"topic": "ORDERS_PAID", "sub": {"uri": uri}})
        errors = r.body["data"]["webhookSubscriptionCreate"]["userErrors"]
        assert errors == [{"field": ["webhookSubscription", "uri"], "message": message}]
    r = gql(fake, 'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") '
                  '{ deletedWebhookSubscriptionId userErrors { message } } }')
    assert r.body["data"]["webhookSubscriptionDelete"]["userErrors"][0]["message"] == "Webhook subscription does not exist"


def test_cost_and_leaky_bucket(fake):
    fake.add_shop(SHOP, TOKEN, bucket_size=100, restore_rate=10)
    r = gql(fake, "{ webhookSubscriptions(first: 50) { edges { node { id topic uri } } pageInfo { hasNextPage } } }")
    cost = r.body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 52 and cost["actualQueryCost"] == 2  # unused nodes refunded
    assert cost["throttleStatus"]["maximumAvailable"] == 100.0 and cost["throttleStatus"]["restoreRate"] == 10.0
    r = gql(fake, CREATE, {"topic": "ORDERS_PAID", "sub": {"uri": "https://a.test/h"}})
    assert r.body["extensions"]["cost"]["requestedQueryCost"] == 10
    # drain it: THROTTLED in a 200, with the bucket's state
    fake.shops[SHOP].bucket.available = 5
    r = gql(fake, "{ webhookSubscriptions(first: 50) { nodes { id } } }")
    assert r.status == 200 and r.body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert r.body["extensions"]["cost"]["actualQueryCost"] is None
    assert r.body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 5
    # 429 mode: Retry-After says when the cost fits again
    fake.shops[SHOP].throttle_mode = "http429"
    r = gql(fake, "{ webhookSubscriptions(first: 50) { nodes { id } } }")
    assert r.status == 429 and 4.0 <= float(r.headers["Retry-After"]) <= 5.0
    # it leaks back
    fake.shops[SHOP].bucket.updated -= 5
    assert gql(fake, "{ webhookSubscriptions(first: 50) { nodes { id } } }").status == 200
    # a single query above the bucket size can never run
    r = gql(fake, "{ webhookSubscriptions(first: 200) { nodes { id } } }")
    assert r.body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_buckets_are_per_shop(fake):
    fake.add_shop("outra.myshopify.com", "t2", bucket_size=100, restore_rate=1)
    fake.shops["outra.myshopify.com"].bucket.available = 0
    assert gql(fake, "{ shop { name } }").status == 200
    r = gql(fake, "{ shop { name } }", shop="outra.myshopify.com", token="t2")
    assert r.body["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_switchable_failures(fake):
    fake.add_failure(fake.shops[SHOP], {"kind": "5xx", "status": 502, "count": 2})
    assert [gql(fake, "{ shop { name } }").status for _ in range(3)] == [502, 502, 200]
    fake.add_failure(fake.shops[SHOP], {"kind": "timeout", "delay": 3})
    r = gql(fake, "{ shop { name } }")
    assert r.status == 504 and r.delay == 3
    fake.add_failure(fake.shops[SHOP], {"kind": "user_errors", "message": "Boom", "operation": "webhookSubscriptionCreate"})
    assert gql(fake, "{ shop { name } }").status == 200  # a query does not consume it
    r = gql(fake, CREATE, {"topic": "ORDERS_PAID", "sub": {"uri": "https://a.test/h"}})
    assert r.body["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"] == "Boom"
    with pytest.raises(ValueError):
        fake.add_failure(fake.shops[SHOP], {"kind": "nope"})


def test_pagination_both_ways(fake):
    shop = fake.shops[SHOP]
    for i in range(7):
        fake.add_subscription(shop, topic="ORDERS_PAID", uri=f"https://a.test/{i}")
    seen, after = [], None
    while True:
        r = gql(fake, "query($a: String) { webhookSubscriptions(first: 3, after: $a) { edges { cursor node { uri } } "
                      "pageInfo { hasNextPage endCursor } } }", {"a": after})
        conn = r.body["data"]["webhookSubscriptions"]
        seen += [e["node"]["uri"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [f"https://a.test/{i}" for i in range(7)]
    r = gql(fake, "{ webhookSubscriptions(last: 2) { nodes { uri } pageInfo { hasPreviousPage } } }")
    assert [n["uri"] for n in r.body["data"]["webhookSubscriptions"]["nodes"]] == ["https://a.test/5", "https://a.test/6"]
    r = gql(fake, '{ webhookSubscriptions(first: 10, uri: "https://a.test/3") { nodes { uri } } }')
    assert len(r.body["data"]["webhookSubscriptions"]["nodes"]) == 1


def test_orders_query_for_reconciliation(fake):
    shop = fake.shops[SHOP]
    old = order_payload(1001, [(1, "A", 2)])
    fake.upsert_order(shop, old)
    shop.orders[1001]["updated_at"] = "2025-01-01T00:00:00Z"
    fake.upsert_order(shop, order_payload(1002, [(1, "A", 1), (2, None, 3)]))
    fake.add_refund(shop, refund_payload(77, 1002, [(1, 1, "return")]))
    fake.upsert_order(shop, order_payload(1003, [(1, "B", 1)]))
    fake.cancel_order(shop, 1003)
    query = """query($q: String, $a: String) { orders(first: 1, after: $a, query: $q, sortKey: UPDATED_AT) {
      edges { node { legacyResourceId name updatedAt cancelledAt
        lineItems(first: 10) { nodes { id sku quantity currentQuantity } }
        refunds { legacyResourceId refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } } } } }
      pageInfo { hasNextPage endCursor } } }"""
    nodes, after = [], None
    while True:
        r = gql(fake, query, {"q": "updated_at:>'2025-06-01T00:00:00Z'", "a": after})
        conn = r.body["data"]["orders"]
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert [n["legacyResourceId"] for n in nodes] == ["1002", "1003"]
    refund = nodes[0]["refunds"][0]
    assert refund["legacyResourceId"] == "77"
    assert refund["refundLineItems"]["nodes"] == [{"quantity": 1, "restockType": "RETURN",
                                                   "lineItem": {"id": "gid://shopify/LineItem/1"}}]
    assert nodes[0]["lineItems"]["nodes"][1]["sku"] is None
    assert nodes[1]["cancelledAt"]


def test_state_file_and_cli_shops(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"shops": [{"shop": "a.myshopify.com", "token": "ta", "bucket_size": 50,
                                            "subscriptions": [{"topic": "orders/paid", "uri": "https://x.test/h"}]}]}))
    fake = build_fake({"state": str(state), "shop": ["b.myshopify.com=tb"], "bucket_size": 1000,
                       "restore_rate": 50, "throttle_mode": "graphql"})
    assert set(fake.shops) == {"a.myshopify.com", "b.myshopify.com"}
    assert fake.shops["a.myshopify.com"].bucket.maximum == 50
    assert [s.topic for s in fake.shops["a.myshopify.com"].subscriptions.values()] == ["ORDERS_PAID"]


def test_control_endpoint_over_http(fake_shopify):
    fake_shopify.add_shop("ctl.myshopify.com", "tok", bucket_size=10, restore_rate=5)
    r = fake_shopify.http.post("/ctl.myshopify.com/admin/api/2025-10/graphql.json",
                               headers={"X-Shopify-Access-Token": "tok"}, json={"query": "{ shop { name } }"})
    assert r.status_code == 200 and r.headers["X-Shopify-API-Version"] == "2025-10"
    assert fake_shopify.shop("ctl.myshopify.com")["stats"]["requests"] == 1
    assert fake_shopify.http.get("/_fake/shops/none.myshopify.com").status_code == 404
    started = time.monotonic()
    fake_shopify.fail("ctl.myshopify.com", "timeout", delay=0.3)
    r = fake_shopify.http.post("/ctl.myshopify.com/admin/api/2025-10/graphql.json",
                               headers={"X-Shopify-Access-Token": "tok"}, json={"query": "{ shop { name } }"})
    assert r.status_code == 504 and time.monotonic() - started >= 0.3


def _install(fake_shopify, shop: str, *, expiring: bool = True, **lifetimes) -> dict:
    """An app, a shop, a consent and the code's exchange at the token endpoint, all over HTTP."""
    fake_shopify.add_app("app-exp", "segredo-exp", **lifetimes)
    fake_shopify.add_shop(shop, "")
    confirm = fake_shopify.http.post(f"/{shop}/admin/oauth/authorize/confirm", data={
        "client_id": "app-exp", "scope": "read_products", "redirect_uri": "http://x/cb", "state": "s"})
    code = dict(p.split("=", 1) for p in confirm.headers["location"].split("?", 1)[1].split("&"))["code"]
    body = {"client_id": "app-exp", "client_secret": "segredo-exp", "code": code}
    if expiring:
        body["expiring"] = 1
    r = fake_shopify.http.post(f"/{shop}/admin/oauth/access_token", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _shop_query(fake_shopify, shop: str, token: str):
    return fake_shopify.http.post(f"/{shop}/admin/api/2026-10/graphql.json", headers={"X-Shopify-Access-Token": token},
                                  json={"query": "{ shop { name } }"})


def _refresh(fake_shopify, shop: str, refresh_token: str):
    return fake_shopify.http.post(f"/{shop}/admin/oauth/access_token", json={
        "client_id": "app-exp", "client_secret": "segredo-exp", "grant_type": "refresh_token",
        "refresh_token": refresh_token})


def test_expiring_tokens_expire_and_refresh_tokens_rotate_as_on_shopify(fake_shopify):
    shop = "expira.myshopify.com"
    pair = _install(fake_shopify, shop, token_lifetime=1)
    assert pair["expires_in"] == 1 and pair["refresh_token"].startswith("shprt_")
    assert pair["refresh_token_expires_in"] == 90 * 24 * 3600
    assert _shop_query(fake_shopify, shop, pair["access_token"]).status_code == 200  # the 2026-10 version served
    time.sleep(1.1)
    expired = _shop_query(fake_shopify, shop, pair["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}

    second = _refresh(fake_shopify, shop, pair["refresh_token"]).json()  # R1 -> R2
    assert _shop_query(fake_shopify, shop, second["access_token"]).status_code == 200
    # R2's answer "lost": R1 still works (its replacement was never used), giving R3 instead
    third = _refresh(fake_shopify, shop, pair["refresh_token"]).json()
    assert third["refresh_token"] not in (pair["refresh_token"], second["refresh_token"])
    assert _refresh(fake_shopify, shop, second["refresh_token"]).status_code == 400  # the lost one is gone
    fourth = _refresh(fake_shopify, shop, third["refresh_token"]).json()  # R3 used: R1 retired now
    refused = _refresh(fake_shopify, shop, pair["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert fake_shopify.counters(shop)["token_refreshes"] == 3

    fake_shopify.uninstall(shop)  # nothing works after an uninstall, the refresh included
    assert _shop_query(fake_shopify, shop, fourth["access_token"]).status_code == 401
    assert _refresh(fake_shopify, shop, fourth["refresh_token"]).json()["error"] == "invalid_grant"
    assert fake_shopify.counters(shop)["refreshes_refused"] == 3


def test_a_non_expiring_install_token_has_no_refresh_token(fake_shopify):
    pair = _install(fake_shopify, "legado.myshopify.com", expiring=False)
    assert set(pair) == {"access_token", "scope"}
    assert _shop_query(fake_shopify, "legado.myshopify.com", pair["access_token"]).status_code == 200
