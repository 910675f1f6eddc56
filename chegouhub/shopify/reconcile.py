"""Reconciliation: the orders no webhook brought, and the subscriptions Shopify removed.

Webhooks can be lost for good: the endpoint was down longer than Shopify's 4 hours of retries,
Shopify deleted the subscription after repeated failures, a deploy pointed it elsewhere. This
module asks the GraphQL Admin API (the issue-4 client: paginated, throttle-aware) for the orders
updated since the loja's cursor and applies what they say, paid, cancelled and refunded, through
the same ledger functions the webhooks use. The ledger applies only what the facts still
require, so an order the webhooks already handled changes nothing, and running reconciliation
twice, or while the webhooks flow, is harmless.

It also asks Shopify which subscriptions exist: a loja whose required subscriptions vanished
is recorded as `removido`/`incompleto` (its users are told: notification, Slack, Discord) and
re-subscribed at WEBHOOK_BASE_DOMAIN.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chegouhub.common.logging import webhook_log
from chegouhub.stores.models import Loja, WebhookStatus

from . import admin_api
from .admin_api import AdminApiClient, ShopifyError
from .models import OrderLedger, ReconcileCursor
from . import ledger
from .services import ORIGEM_BY_TOPIC, apply_order_facts
from .tokens import client_for_loja

# Shopify's updated_at and our clock differ a little, and an order updated while a page was read
# may move between pages: each run re-reads a margin before its cursor (re-reading is harmless).
OVERLAP = timedelta(minutes=5)
FIRST_RUN_LOOKBACK = timedelta(days=1)
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
PAGE_SIZE = admin_api.ORDERS_PAGE_SIZE

# The issue-4 query plus the two fields reconciliation also needs: whether the order was paid
# (orders/paid has no other trace in an Order) and whether it is a test order.
ORDERS_QUERY = admin_api.ORDERS_QUERY.replace(
    "        updatedAt\n", "        updatedAt\n        displayFinancialStatus\n        test\n", 1
)
assert "displayFinancialStatus" in ORDERS_QUERY


@dataclass
class LojaReconcile:
    loja_id: int
    shop_domain: str
    since: str = ""
    orders: int = 0
    corrected: list[int] = field(default_factory=list)
    erro: str | None = None
    subscriptions: str | None = None  # the status recorded, when checked
    resubscribed: bool = False

    def as_dict(self) -> dict:
        return {"loja_id": self.loja_id, "shop_domain": self.shop_domain, "since": self.since,
                "pedidos": self.orders, "corrigidos": self.corrected, "erro": self.erro,
                "webhooks": self.subscriptions, "reassinado": self.resubscribed}


def _reconcile_facts(node: dict) -> dict:
    facts = admin_api.order_facts(node)
    facts["financial_status"] = str(node.get("displayFinancialStatus") or "").lower() or None
    facts["test"] = bool(node.get("test"))
    return facts


async def fetch_orders(client: AdminApiClient, since: str, *, page_size: int = PAGE_SIZE) -> list[dict]:
    """Orders updated at or after `since`, oldest first, as REST-shaped facts plus `financial_status`."""
    return await admin_api.fetch_orders_updated_since(client, since, page_size=page_size, query=ORDERS_QUERY,
                                                      facts=_reconcile_facts)


def _ledger_state(loja_id: int, order_id: int):
    row = OrderLedger.objects.filter(loja_id=loja_id, order_id=order_id).values(
        "paid", "cancelled", "refunds", "applied").first()
    return row and (row["paid"], row["cancelled"], sorted(row["refunds"]), row["applied"])


def apply_order_snapshot(loja_id: int, order: dict) -> bool:
    """Apply one order's facts through the ledger, as its webhooks would have; True if anything changed."""
    before = _ledger_state(loja_id, order["id"])
    # One fact at a time, as the webhooks bring them, so each movement carries its own origin
    # (a refund restocks as `shopify_reembolso`, not inside the paid order's settlement). The paid
    # fact is read from the whole snapshot: its refunds count in the sold quantity (CONTRACT 4).
    facts = []
    if (order.get("financial_status") or "").upper() in PAID_STATUSES:
        facts.append(("orders/paid", ledger.read_facts("orders/paid", dict(order, cancelled_at=None)).only_payment()))
    if order.get("cancelled_at"):
        facts.append(("orders/cancelled", ledger.read_facts("orders/cancelled", dict(order, refunds=[]))))
    for refund in order.get("refunds") or []:
        facts.append(("refunds/create", ledger.read_facts("refunds/create", dict(refund, order_id=order["id"]))))
    with transaction.atomic():
        for topic, fact in facts:
            apply_order_facts(loja_id=loja_id, facts=fact, origem=ORIGEM_BY_TOPIC[topic])
    return _ledger_state(loja_id, order["id"]) != before


def _cursor(loja: Loja):
    return ReconcileCursor.objects.filter(loja=loja).first()


def _save_cursor(loja: Loja, until: datetime, result: LojaReconcile) -> None:
    ReconcileCursor.objects.update_or_create(
        loja=loja,
        defaults={"orders_until": until, "last_orders": result.orders, "last_corrected": len(result.corrected),
                  "last_error": (result.erro or "")[:300]},
    )


def reconcile_orders(loja: Loja, *, since: datetime | None = None) -> LojaReconcile:
    """Pull the loja's orders updated since `since` (default: its cursor minus the overlap) and apply them."""
    result = LojaReconcile(loja_id=loja.pk, shop_domain=loja.shop_domain)
    started = timezone.now()
    if since is None:
        cursor = _cursor(loja)
        since = (cursor.orders_until - OVERLAP) if cursor else started - FIRST_RUN_LOOKBACK
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    result.since = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def pull() -> list[dict]:
        async with client_for_loja(loja) as client:
            return await fetch_orders(client, result.since)

    try:
        orders = asyncio.run(pull())
    except ShopifyError as exc:
        result.erro = str(exc)[:300]
        webhook_log.warning("reconciliation: orders not read", extra={"loja_id": loja.pk, "erro": result.erro})
        return result
    result.orders = len(orders)
    for order in orders:
        try:
            if apply_order_snapshot(loja.pk, order):
                result.corrected.append(order["id"])
        except Exception as exc:  # one bad order must not stop the others; the cursor does not advance
            result.erro = f"pedido {order.get('id')}: {type(exc).__name__}"
            webhook_log.error("reconciliation: order not applied",
                              extra={"loja_id": loja.pk, "order_id": order.get("id"), "error_type": type(exc).__name__})
    if result.corrected:
        webhook_log.warning("reconciliation applied orders no webhook brought",
                            extra={"loja_id": loja.pk, "orders": result.corrected[:50], "count": len(result.corrected)})
    if result.erro is None:
        _save_cursor(loja, started, result)
    return result


RESUBSCRIBE_FROM = (WebhookStatus.REMOVED, WebhookStatus.INCOMPLETE)


def check_subscriptions(lojas: list[Loja], results: dict[int, LojaReconcile]) -> None:
    """Record each loja's subscription state; re-subscribe those whose subscriptions Shopify removed."""
    from .subscriptions import configure_webhooks, webhooks_status

    # Only lojas that were set up once: a loja never configured is not "lost".
    watched = [loja for loja in lojas if loja.webhook_status in (
        WebhookStatus.CONFIGURED, WebhookStatus.INCOMPLETE, WebhookStatus.REMOVED)]
    if not watched:
        return
    summary = webhooks_status(lojas=watched, base_domain=settings.WEBHOOK_BASE_DOMAIN, record=True)
    lost = []
    for status in summary.results:
        res = results.get(status.loja_id)
        if res is not None:
            res.subscriptions = status.new_status if status.ok else f"erro: {status.erro}"
        if status.ok and status.new_status in RESUBSCRIBE_FROM:
            lost.append(status.loja_id)
    if not lost:
        return
    again = configure_webhooks(lojas=list(Loja.objects.filter(pk__in=lost)), base_domain=settings.WEBHOOK_BASE_DOMAIN)
    for status in again.results:
        res = results.get(status.loja_id)
        if res is not None and status.ok:
            res.resubscribed = True
            res.subscriptions = status.new_status
        webhook_log.warning("reconciliation: webhook subscriptions re-created",
                            extra={"loja_id": status.loja_id, "ok": status.ok, "criados": status.criados})


def reconcile(*, loja_id: int | None = None, since: datetime | None = None, subscriptions: bool = True,
              lojas=None) -> list[LojaReconcile]:
    """One reconciliation pass over the active lojas with credentials (or one loja)."""
    if lojas is None:
        qs = Loja.objects.filter(pk=loja_id) if loja_id is not None else Loja.objects.filter(ativo=True).exclude(
            webhook_status=WebhookStatus.UNINSTALLED)
        lojas = [loja for loja in qs.order_by("pk") if loja.access_token]  # encrypted: filtered here
    results = {loja.pk: reconcile_orders(loja, since=since) for loja in lojas}
    if subscriptions:
        try:
            check_subscriptions(lojas, results)
        except ShopifyError as exc:
            webhook_log.warning("reconciliation: subscriptions not checked", extra={"erro": str(exc)[:300]})
    return list(results.values())
