"""The fake Shopify as a small ASGI application (no framework: it only needs JSON over HTTP).

GraphQL Admin API:  POST /{shop}/admin/api/{version}/graphql.json
Control (tests, demo):
  GET  /_fake/health
  GET  /_fake/stats                          global counters
  POST /_fake/reset                          forget every shop
  POST /_fake/shops                          {"shop","token",["name","bucket_size","restore_rate","throttle_mode",
                                              "subscriptions":[{"topic","uri"}]]} or {"shops":[...]}
  GET  /_fake/shops/{shop}                   subscriptions, bucket, stats
  GET  /_fake/state                          the same for every shop, by domain
  POST /_fake/shops/{shop}/subscriptions     {"topic","uri"}: a subscription made elsewhere
  POST /_fake/shops/{shop}/failures          {"kind": 5xx|timeout|429|auth|user_errors|idempotency_concurrent, "count", ...}
  POST /_fake/shops/{shop}/bucket            {"available"}: drain or fill the bucket
  POST /_fake/bucket                         {"available"}: the same for every shop
  POST /_fake/shops/{shop}/orders            a REST-shaped order (upsert)
  POST /_fake/shops/{shop}/refunds           a REST-shaped refund of a known order
  POST /_fake/shops/{shop}/orders/{id}/cancel
  POST /_fake/shops/{shop}/catalog           {"products":[{"title","variants":[{"sku","title","available"}]}]}
                                             or {"generate":{"variants","per_product","sem_sku_every","prefix"}}
  GET  /_fake/shops/{shop}/catalog           locations and every variant (sku, ids, available at the primary)
  POST /_fake/shops/{shop}/sales             {"lines":[{"variant_id","quantity"}], ["location_id","name"]}: a sale in
                                             the store: 201 with the orders/paid payload, 409 when out of stock
  POST /_fake/shops/{shop}/levels            {"inventory_item_id","available",["location_id"]}: a merchant's edit
  GET  /_fake/shops/{shop}/stats             the shop's counters (calls, cost, throttled, sets, stale, replays, sales)
  POST /_fake/shops/{shop}/revoke            {"after_requests": N}: the token stops working after N more calls
  POST /_fake/shops/{shop}/uninstall         the app uninstalled: every token and refresh token refused
  POST /_fake/apps                           {"client_id","client_secret",["token_lifetime","refresh_token_lifetime","refresh_delay"]}:
                                             an app for the OAuth install flow (lifetimes in seconds)
OAuth (oauth.py):   GET /{shop}/admin/oauth/authorize, POST /{shop}/admin/oauth/authorize/confirm,
                    POST /{shop}/admin/oauth/access_token
Bulk results:       GET /_fake/bulk/{shop}/{id}.jsonl (no token, like Shopify's signed storage URL)
"""

from __future__ import annotations

import asyncio
import json
import re

from .state import FakeShopify, OutOfStock, Reply

GRAPHQL_PATH = re.compile(r"^/(?P<shop>[^/]+)/admin/api/(?P<version>[^/]+)/graphql\.json$")
SHOP_PATH = re.compile(r"^/_fake/shops/(?P<shop>[^/]+)(?P<rest>/.*)?$")
OAUTH_PATH = re.compile(r"^/(?P<shop>[^/_][^/]*)/admin/oauth/(?P<action>authorize|authorize/confirm|access_token)$")
BULK_PATH = re.compile(r"^/_fake/bulk/(?P<shop>[^/]+)/(?P<id>\d+)\.jsonl$")
MAX_BODY = 1024 * 1024


class FakeShopifyApp:
    def __init__(self, fake: FakeShopify | None = None):
        self.fake = fake or FakeShopify()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _send(send, Reply(413, {"errors": "Payload Too Large"}))
                return
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host") or f"{scope['server'][0]}:{scope['server'][1]}"
        try:
            reply = self.route(scope["method"], scope["path"], headers, body,
                               query=scope.get("query_string", b"").decode("latin-1"), base_url=f"http://{host}")
        except Exception as exc:  # a bug in the fake should be visible, not a hang
            reply = Reply(500, {"errors": f"fake shopify error: {type(exc).__name__}: {exc}"})
        if reply.delay:
            await asyncio.sleep(reply.delay)
        await _send(send, reply)

    def route(self, method: str, path: str, headers: dict, body: bytes, *, query: str = "",
              base_url: str = "") -> Reply:
        m = GRAPHQL_PATH.match(path)
        if m:
            if method != "POST":
                return Reply(405, {"errors": "Method Not Allowed"})
            return self.fake.handle_graphql(
                shop_domain=m["shop"], version=m["version"], token=headers.get("x-shopify-access-token"),
                body=body, content_type=headers.get("content-type", "application/json"), base_url=base_url,
            )
        m = OAUTH_PATH.match(path)
        if m:
            return self.fake.handle_oauth(shop_domain=m["shop"], action=m["action"], method=method, query=query,
                                          body=body, content_type=headers.get("content-type", ""))
        m = BULK_PATH.match(path)
        if m and method == "GET":
            shop = self.fake.shops.get(m["shop"].lower())
            op = shop.catalog.bulk_operations.get(int(m["id"])) if shop else None
            if op is None:
                return Reply(404, b"NoSuchKey", {"content-type": "application/xml"})
            return Reply(200, op.lines, {"content-type": "application/jsonl"})
        if path.startswith("/_fake/"):
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                return Reply(400, {"erro": "JSON inválido"})
            return self.control(method, path, data)
        return Reply(404, {"errors": "Not Found"})

    def control(self, method: str, path: str, data) -> Reply:
        fake = self.fake
        if path == "/_fake/health":
            return Reply(200, {"ok": True, "shops": len(fake.shops)})
        if path == "/_fake/stats" and method == "GET":
            return Reply(200, {**fake.stats, "shops": len(fake.shops)})
        if path == "/_fake/reset" and method == "POST":
            fake.shops.clear()
            fake.apps.clear()
            fake.grants.clear()
            for key in fake.stats:
                fake.stats[key] = 0
            return Reply(200, {"ok": True})
        if path == "/_fake/shops" and method == "POST":
            specs = data.get("shops") if isinstance(data, dict) and "shops" in data else [data]
            try:
                for spec in specs:
                    fake.add_shop(spec["shop"], spec["token"], name=spec.get("name", ""),
                                  bucket_size=spec.get("bucket_size"), restore_rate=spec.get("restore_rate"),
                                  throttle_mode=spec.get("throttle_mode"), subscriptions=spec.get("subscriptions"),
                                  available=spec.get("available"), bulk_rate=spec.get("bulk_rate"),
                                  currency=spec.get("currency"))
            except (KeyError, TypeError, ValueError) as exc:
                return Reply(400, {"erro": f"especificação de loja inválida: {exc}"})
            return Reply(201, {"ok": True, "shops": len(specs)})
        if path == "/_fake/apps" and method == "POST":
            try:
                fake.add_app(str(data["client_id"]), str(data["client_secret"]),
                             token_lifetime=data.get("token_lifetime"),
                             refresh_token_lifetime=data.get("refresh_token_lifetime"),
                             refresh_delay=data.get("refresh_delay"))
            except (KeyError, TypeError, ValueError) as exc:
                return Reply(400, {"erro": f"app inválido: {exc}"})
            return Reply(201, {"ok": True})
        if path == "/_fake/bucket" and method == "POST":
            for shop in fake.shops.values():
                shop.bucket.refill()
                shop.bucket.available = min(float(data.get("available", 0)), shop.bucket.maximum)
            return Reply(200, {"ok": True, "shops": len(fake.shops)})
        if path == "/_fake/shops" and method == "GET":
            return Reply(200, {"shops": sorted(fake.shops)})
        if path == "/_fake/state" and method == "GET":
            return Reply(200, {"shops": {domain: shop.as_json() for domain, shop in sorted(fake.shops.items())}})
        m = SHOP_PATH.match(path)
        if not m:
            return Reply(404, {"erro": "rota de controle desconhecida"})
        shop = fake.shops.get(m["shop"].lower())
        if shop is None:
            return Reply(404, {"erro": "loja desconhecida"})
        rest = m["rest"] or ""
        try:
            if rest == "" and method == "GET":
                return Reply(200, shop.as_json())
            if rest == "/subscriptions" and method == "POST":
                sub = fake.add_subscription(shop, topic=data["topic"], uri=data["uri"],
                                            api_version=data.get("api_version", "2025-10"))
                return Reply(201, sub.as_json())
            if rest == "/failures" and method == "POST":
                fake.add_failure(shop, data)
                return Reply(201, {"pending_failures": [f.__dict__ for f in shop.failures]})
            if rest == "/failures" and method == "DELETE":
                shop.failures.clear()
                return Reply(200, {"pending_failures": []})
            if rest == "/bucket" and method == "POST":
                shop.bucket.refill()
                shop.bucket.available = float(data.get("available", 0))
                if "throttle_mode" in data:
                    shop.throttle_mode = data["throttle_mode"]
                return Reply(200, shop.bucket.status())
            if rest == "/orders" and method == "POST":
                # "baixar_estoque": a new paid order takes its units off `available`, as a store's
                # sale does (the demo's simulated store; never refused: the sale already happened).
                return Reply(201, fake.upsert_order(shop, {k: v for k, v in data.items() if k != "baixar_estoque"},
                                                    take_stock=bool(data.get("baixar_estoque"))))
            if rest == "/orders" and method == "GET":
                return Reply(200, {"orders": list(shop.orders.values())})
            if rest == "/refunds" and method == "POST":
                return Reply(201, fake.add_refund(shop, data))
            if rest == "/catalog" and method == "POST":
                catalog = shop.catalog
                made = 0
                for product in data.get("products") or []:
                    made += len(catalog.add_product(product["title"], product.get("variants") or []).variant_ids)
                if data.get("generate"):
                    g = data["generate"]
                    made += catalog.generate(variants=int(g["variants"]), per_product=int(g.get("per_product", 4)),
                                             sem_sku_every=int(g.get("sem_sku_every", 0)),
                                             prefix=str(g.get("prefix", "SKU")), seed=int(g.get("seed", 1)),
                                             start=int(g.get("start", 1)))
                return Reply(201, {"variants_added": made, "variants": len(catalog.variants)})
            if rest == "/catalog" and method == "GET":
                return Reply(200, shop.catalog.as_json())
            if rest == "/sales" and method == "POST":
                lines = [(int(line["variant_id"]), int(line["quantity"])) for line in data["lines"]]
                try:
                    order = fake.place_order(shop, lines, location_id=data.get("location_id"), name=data.get("name"))
                except OutOfStock as exc:
                    return Reply(409, {"erro": "sem estoque", "variant_id": exc.variant_id,
                                       "available": exc.available, "quantity": exc.wanted})
                return Reply(201, order)
            if rest == "/levels" and method == "POST":
                return Reply(200, fake.set_level(shop, inventory_item_id=int(data["inventory_item_id"]),
                                                 available=int(data["available"]), location_id=data.get("location_id")))
            if rest == "/stats" and method == "GET":
                return Reply(200, dict(shop.stats))
            if rest == "/uninstall" and method == "POST":
                fake.uninstall(shop)
                return Reply(200, {"ok": True})
            if rest == "/revoke" and method == "POST":
                shop.revoke_after = int(data.get("after_requests", 0))
                return Reply(200, {"revoke_after": shop.revoke_after})
            cancel = re.fullmatch(r"/orders/(\d+)/cancel", rest)
            if cancel and method == "POST":
                return Reply(200, fake.cancel_order(shop, int(cancel.group(1))))
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"erro": f"pedido de controle inválido: {type(exc).__name__}: {exc}"})
        return Reply(404, {"erro": "rota de controle desconhecida"})


async def _send(send, reply: Reply) -> None:
    extra = {k.lower(): str(v) for k, v in reply.headers.items()}
    if isinstance(reply.body, (bytes, str)):
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
    else:
        payload = json.dumps(reply.body, separators=(",", ":")).encode()
    content_type = extra.pop("content-type", "application/json; charset=utf-8")
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
