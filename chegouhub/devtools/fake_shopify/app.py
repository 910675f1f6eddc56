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
  POST /_fake/shops/{shop}/failures          {"kind": 5xx|timeout|429|auth|user_errors, "count", ...}
  POST /_fake/shops/{shop}/bucket            {"available"}: drain or fill the bucket
  POST /_fake/bucket                         {"available"}: the same for every shop
  POST /_fake/shops/{shop}/orders            a REST-shaped order (upsert)
  POST /_fake/shops/{shop}/refunds           a REST-shaped refund of a known order
  POST /_fake/shops/{shop}/orders/{id}/cancel
"""

from __future__ import annotations

import asyncio
import json
import re

from .state import FakeShopify, Reply

GRAPHQL_PATH = re.compile(r"^/(?P<shop>[^/]+)/admin/api/(?P<version>[^/]+)/graphql\.json$")
SHOP_PATH = re.compile(r"^/_fake/shops/(?P<shop>[^/]+)(?P<rest>/.*)?$")
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
        try:
            reply = self.route(scope["method"], scope["path"], headers, body)
        except Exception as exc:  # a bug in the fake should be visible, not a hang
            reply = Reply(500, {"errors": f"fake shopify error: {type(exc).__name__}: {exc}"})
        if reply.delay:
            await asyncio.sleep(reply.delay)
        await _send(send, reply)

    def route(self, method: str, path: str, headers: dict, body: bytes) -> Reply:
        m = GRAPHQL_PATH.match(path)
        if m:
            if method != "POST":
                return Reply(405, {"errors": "Method Not Allowed"})
            return self.fake.handle_graphql(
                shop_domain=m["shop"], version=m["version"], token=headers.get("x-shopify-access-token"),
                body=body, content_type=headers.get("content-type", "application/json"),
            )
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
                                  available=spec.get("available"))
            except (KeyError, TypeError, ValueError) as exc:
                return Reply(400, {"erro": f"especificação de loja inválida: {exc}"})
            return Reply(201, {"ok": True, "shops": len(specs)})
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
                return Reply(201, fake.upsert_order(shop, data))
            if rest == "/orders" and method == "GET":
                return Reply(200, {"orders": list(shop.orders.values())})
            if rest == "/refunds" and method == "POST":
                return Reply(201, fake.add_refund(shop, data))
            cancel = re.fullmatch(r"/orders/(\d+)/cancel", rest)
            if cancel and method == "POST":
                return Reply(200, fake.cancel_order(shop, int(cancel.group(1))))
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"erro": f"pedido de controle inválido: {type(exc).__name__}: {exc}"})
        return Reply(404, {"erro": "rota de controle desconhecida"})


async def _send(send, reply: Reply) -> None:
    payload = json.dumps(reply.body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), str(v).encode()) for k, v in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
