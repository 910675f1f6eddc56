"""Shopify-shaped payloads and signed deliveries, for the fake Shopify, the demo and the tests.

Orders follow the REST Order shape of Shopify's own sample (fixtures/shopify-sample-order.json);
refunds follow the REST Refund shape. Deliveries are signed exactly as Shopify signs them.
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@functools.cache
def _sample_order() -> dict:
    return json.loads((FIXTURES / "shopify-sample-order.json").read_text())


def sample_order() -> dict:
    """Shopify's admin "send test notification" order (test, voided, cancelled)."""
    return copy.deepcopy(_sample_order())


def money_set(amount: str, currency: str, presented: tuple[str, str] | None = None) -> dict:
    """A Shopify money set: shop money, and the buyer's (presentment) money."""
    p_amount, p_currency = presented or (amount, currency)
    return {"shop_money": {"amount": amount, "currency_code": currency},
            "presentment_money": {"amount": p_amount, "currency_code": p_currency}}


def order_payload(order_id: int, lines: list[tuple[int, str | None, int]], *, name: str | None = None,
                  cancelled: bool = False, current_quantities: dict[int, int] | None = None,
                  total: tuple[str, str] | None = None, presented: tuple[str, str] | None = None,
                  at: datetime | None = None) -> dict:
    """A paid order: lines are (line_item_id, sku, quantity); `total` (amount, currency) its value in
    shop money (the sample's USD 403.00 by default), `presented` in the buyer's currency."""
    order = sample_order()
    template = order["line_items"][0]
    when = (at or datetime.now(UTC)).isoformat()
    if total is not None:
        order["total_price_set"] = money_set(*total, presented=presented)
        order["total_price"], order["currency"] = total
        order["presentment_currency"] = (presented or total)[1]
    order.update(
        created_at=when,
        processed_at=when,
        id=order_id,
        name=name or f"#{order_id}",
        order_number=order_id,
        test=False,
        financial_status="paid",
        cancelled_at=datetime.now(UTC).isoformat() if cancelled else None,
        cancel_reason="customer" if cancelled else None,
        refunds=[],
    )
    items = []
    for line_id, sku, qty in lines:
        item = copy.deepcopy(template)
        item.update(id=line_id, sku=sku, quantity=qty, fulfillable_quantity=qty, title=f"Produto {sku}")
        if current_quantities and line_id in current_quantities:
            item["current_quantity"] = current_quantities[line_id]
        items.append(item)
    order["line_items"] = items
    return order


def refund_payload(refund_id: int, order_id: int, lines: list[tuple[int, int, str]], *,
                   amount: tuple[str, str] | None = None, presented: tuple[str, str] | None = None,
                   at: datetime | None = None) -> dict:
    """A refund: lines are (line_item_id, quantity, restock_type); `amount` (amount, currency) what its
    successful refund transaction gave back in shop money (none: no transaction)."""
    when = (at or datetime.now(UTC)).isoformat()
    transactions = []
    if amount is not None:
        transactions.append({"id": refund_id * 100, "kind": "refund", "status": "success", "amount": amount[0],
                             "currency": amount[1], "amount_set": money_set(*amount, presented=presented)})
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": when,
        "note": "reembolso",
        "user_id": None,
        "processed_at": when,
        "restock": any(rt != "no_restock" for _, _, rt in lines),
        "duties": [],
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "refund_line_items": [
            {
                "id": refund_id * 10 + i,
                "quantity": qty,
                "line_item_id": line_id,
                "location_id": 1,
                "restock_type": restock_type,
                "subtotal": 1.0,
                "total_tax": 0.0,
                "line_item": {"id": line_id, "quantity": qty},
            }
            for i, (line_id, qty, restock_type) in enumerate(lines)
        ],
        "transactions": transactions,
        "order_adjustments": [],
    }


def signed_headers(*, body: bytes, secret: str, shop_domain: str, topic: str, webhook_id: str | None = None,
                   event_id: str | None = None, api_version: str = "2025-10") -> dict[str, str]:
    from chegouhub.shopify.services import compute_hmac  # here: the fake Shopify imports this module without Django

    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": compute_hmac(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }


def encode(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
