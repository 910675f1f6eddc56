"""The fake Shopify's catalog, bulk operations, token revocation and OAuth endpoints, over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

SHOP = "catalogo-fake.myshopify.com"
TOKEN = "shpat_catalogo_fake"

VARIANTS = """query($first: Int!, $after: String, $loc: ID!) {
  productVariants(first: $first, after: $after) {
    nodes { id sku displayName inventoryItem { id inventoryLevel(locationId: $loc) {
      quantities(names: ["available", "on_hand"]) { name quantity } } } }
    pageInfo { hasNextPage endCursor } } }"""


def gql(fake, query, variables=None, token=TOKEN):
    url = fake.admin_url_template.format(shop=SHOP, version="2025-10")
    return httpx.post(url, json={"query": query, "variables": variables or {}},
                      headers={"X-Shopify-Access-Token": token}, timeout=10)


@pytest.fixture
def shop(fake_shopify):
    fake_shopify.add_shop(SHOP, TOKEN)
    fake_shopify.generate_catalog(SHOP, 30, per_product=3, sem_sku_every=10)
    return fake_shopify


@pytest.mark.postgres
def test_variants_paginate_with_cost_and_levels_at_the_primary_location(shop):
    first = gql(shop, "{ location { id isPrimary } productVariantsCount { count } }").json()
    loc = first["data"]["location"]["id"]
    assert first["data"]["location"]["isPrimary"] and first["data"]["productVariantsCount"]["count"] == 30
    seen, after, pages = [], None, 0
    while True:
        body = gql(shop, VARIANTS, {"first": 8, "after": after, "loc": loc}).json()
        assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 8 * 4
        conn = body["data"]["productVariants"]
        seen += conn["nodes"]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 4 and len(seen) == 30
    assert sum(1 for n in seen if n["sku"] is None) == 3
    catalog = {v["sku"]: v for v in shop.catalog(SHOP)["variants"]}
    node = next(n for n in seen if n["sku"] == "SKU-000001")
    quantities = {q["name"]: q["quantity"] for q in node["inventoryItem"]["inventoryLevel"]["quantities"]}
    assert quantities == {"available": catalog["SKU-000001"]["available"], "on_hand": catalog["SKU-000001"]["on_hand"]}


@pytest.mark.postgres
def test_bulk_operation_runs_then_serves_jsonl_without_token(shop):
    loc = gql(shop, "{ location { id } }").json()["data"]["location"]["id"]
    query = ('{ productVariants { edges { node { id sku inventoryItem { inventoryLevel(locationId: "%s") '
             '{ quantities(names: ["available"]) { name quantity } } } } } } }' % loc)
    run = gql(shop, "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } "
                    "userErrors { field message } } }", {"q": query}).json()
    op = run["data"]["bulkOperationRunQuery"]["bulkOperation"]
    assert op["status"] == "CREATED" and run["extensions"]["cost"]["requestedQueryCost"] == 10
    deadline = time.monotonic() + 5
    while True:
        node = gql(shop, "query($id: ID!) { node(id: $id) { ... on BulkOperation { status objectCount url } } }",
                   {"id": op["id"]}).json()["data"]["node"]
        if node["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert node["status"] == "COMPLETED" and node["objectCount"] == "30"
    lines = httpx.get(node["url"], timeout=10).text.splitlines()
    assert len(lines) == 30 and '"sku":"SKU-000001"' in lines[0]


@pytest.mark.postgres
def test_revoked_token_stops_working_after_n_requests(shop):
    shop.revoke(SHOP, after_requests=2)
    assert gql(shop, "{ shop { name } }").status_code == 200
    assert gql(shop, "{ shop { name } }").status_code == 200
    assert gql(shop, "{ shop { name } }").status_code == 401
    assert gql(shop, "{ shop { name } }").status_code == 401


@pytest.mark.postgres
def test_oauth_authorize_confirm_and_single_use_code(fake_shopify):
    fake_shopify.add_app("app-id", "app-secret")
    authorize = fake_shopify.authorize_url_template.format(shop=SHOP)
    page = httpx.get(authorize, params={"client_id": "app-id", "scope": "read_products",
                                        "redirect_uri": "https://app.test/cb", "state": "s1"})
    assert page.status_code == 200 and "Instalar app" in page.text
    confirm = httpx.post(f"{fake_shopify.url}/{SHOP}/admin/oauth/authorize/confirm",
                         data={"client_id": "app-id", "scope": "read_products", "redirect_uri": "https://app.test/cb",
                               "state": "s1"})
    assert confirm.status_code == 302
    params = dict(parse_qsl(urlsplit(confirm.headers["location"]).query))
    assert params["state"] == "s1" and params["shop"] == SHOP
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    assert params["hmac"] == hmac.new(b"app-secret", message.encode(), hashlib.sha256).hexdigest()
    token_url = fake_shopify.token_url_template.format(shop=SHOP)
    body = {"client_id": "app-id", "client_secret": "app-secret", "code": params["code"]}
    got = httpx.post(token_url, json=body)
    assert got.status_code == 200 and got.json()["access_token"].startswith("shpat_")
    assert gql(fake_shopify, "{ shop { name } }", token=got.json()["access_token"]).status_code == 200
    again = httpx.post(token_url, json=body)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    wrong = httpx.post(token_url, json={**body, "client_secret": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
