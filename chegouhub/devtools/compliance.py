"""Shopify's three compliance webhooks, shaped and signed as Shopify sends them, for the demo,
`simulate_shopify --compliance TOPIC` and the tests."""

from __future__ import annotations

import threading
import uuid

import httpx
from django.db import connection

from chegouhub.devtools.payloads import encode, sample_order, signed_headers

COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
WEBHOOK_PATH = "/api/estoque/webhook/shopify/"


def sample_customer() -> dict:
    """The customer of Shopify's sample order, whom the simulated orders belong to."""
    c = sample_order()["customer"]
    return {"id": c["id"], "email": c["email"], "phone": c.get("phone")}


def compliance_payload(topic: str, *, shop_domain: str, customer: dict | None = None, orders=(),
                       data_request_id: int | None = None) -> dict:
    if topic not in COMPLIANCE_TOPICS:
        raise ValueError(f"not a compliance topic: {topic}")
    payload = {"shop_id": 1, "shop_domain": shop_domain}
    if topic == "shop/redact":
        return payload
    payload["customer"] = customer or sample_customer()
    if topic == "customers/redact":
        payload["orders_to_redact"] = list(orders)
    else:
        payload["orders_requested"] = list(orders)
        payload["data_request"] = {"id": data_request_id or uuid.uuid4().int % 10**9}
    return payload


def send_compliance_webhook(*, loja, topic: str, target: str, customer: dict | None = None, orders=(),
                            timeout: float = 10.0) -> httpx.Response:
    """POST one signed compliance webhook to `target` (the service's base URL)."""
    body = encode(compliance_payload(topic, shop_domain=loja.shop_domain, customer=customer, orders=orders))
    headers = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic)
    return httpx.post(target.rstrip("/") + WEBHOOK_PATH, content=body, headers=headers, timeout=timeout)


def demo_redaction(*, loja, target: str, stop: threading.Event, after_seconds: float = 30.0) -> None:
    """The demo's privacy moment: once some orders went through, Shopify asks for the sample
    customer's data and then for its removal on the first orders; the dashboard shows both done."""
    from chegouhub.shopify.models import WebhookDelivery

    if stop.wait(after_seconds):
        return
    orders = list(WebhookDelivery.objects.filter(loja=loja, topic="orders/paid", order_id__isnull=False)
                  .order_by("id").values_list("order_id", flat=True)[:3])
    connection.close()  # this thread's connection back to the process's pool
    for topic in ("customers/data_request", "customers/redact"):
        try:
            send_compliance_webhook(loja=loja, topic=topic, target=target, orders=orders)
        except httpx.HTTPError:
            return  # the server is stopping
