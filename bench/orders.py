"""Unique, signed `orders/paid` deliveries, built fast from Shopify-shaped templates.

The body is Shopify's own sample order shape (chegouhub.devtools.payloads.order_payload) with 1 to 3
line items over the benchmark's SKUs; it is rendered once per line count with placeholders, so a
delivery costs a few string replacements and one HMAC instead of a deepcopy and a json.dumps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass

PATH = "/api/estoque/webhook/shopify/"
_OID = "__BENCH_OID__"


@dataclass
class Order:
    loja_index: int
    order_id: int
    lines: list[tuple[str, int]]  # (sku, quantity); SKUs are distinct within an order
    request: bytes


def templates() -> dict[int, str]:
    """Rendered once by the orchestrator (needs Django imported); handed to the load generator."""
    from chegouhub.devtools.payloads import encode, order_payload

    out = {}
    for n in (1, 2, 3):
        lines = [(10 + i, f"__BENCH_SKU{i}__", 1) for i in range(n)]
        order = order_payload(0, lines)
        order["id"] = _OID
        order["order_number"] = _OID
        order["name"] = f"#{_OID}"
        for i, item in enumerate(order["line_items"]):
            item["quantity"] = f"__BENCH_QTY{i}__"
            item["fulfillable_quantity"] = f"__BENCH_QTY{i}__"
            item["current_quantity"] = f"__BENCH_QTY{i}__"
        out[n] = encode(order).decode()
    return out


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class OrderFactory:
    def __init__(self, *, host: str, shops: list[tuple[str, str]], skus: list[str], templates: dict,
                 seed: int = 6, first_order_id: int = 5_000_000_000):
        self.host = host
        self.shops = shops  # (shop_domain, secret) per loja index
        self.skus = skus
        self.rng = random.Random(seed)
        self.next_id = first_order_id
        self.templates = {int(k): v for k, v in templates.items()}

    def make(self, loja_index: int | None = None, lines: int | None = None) -> Order:
        rng = self.rng
        if loja_index is None:
            loja_index = rng.randrange(len(self.shops))
        shop, secret = self.shops[loja_index]
        n = lines or rng.choice((1, 1, 2, 2, 3))
        skus = rng.sample(self.skus, n)
        qtys = [rng.choice((1, 1, 1, 2, 3)) for _ in range(n)]
        oid = self.next_id
        self.next_id += 1
        body = self.templates[n].replace(f'"#{_OID}"', f'"#{oid}"').replace(f'"{_OID}"', str(oid))
        for i in range(n):
            body = body.replace(f'"__BENCH_SKU{i}__"', json.dumps(skus[i])).replace(f'"__BENCH_QTY{i}__"', str(qtys[i]))
        raw = body.encode()
        headers = (
            f"POST {PATH} HTTP/1.1\r\n"
            f"Host: {self.host}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n"
            "X-Shopify-Topic: orders/paid\r\n"
            f"X-Shopify-Hmac-Sha256: {sign(raw, secret)}\r\n"
            f"X-Shopify-Shop-Domain: {shop}\r\n"
            "X-Shopify-API-Version: 2025-10\r\n"
            f"X-Shopify-Webhook-Id: {uuid.uuid4()}\r\n"
            f"X-Shopify-Event-Id: {uuid.uuid4()}\r\n"
            "X-Shopify-Triggered-At: 2026-11-27T12:00:00+00:00\r\n"
            "\r\n"
        ).encode()
        return Order(loja_index, oid, list(zip(skus, qtys)), headers + raw)
