"""Shopify webhooks: verify, store raw, apply through the order ledger exactly once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from chegouhub.common import metrics
from chegouhub.common.logging import webhook_log
from chegouhub.inventory.models import Origem
from chegouhub.inventory.services import StockChange, apply_stock_changes, resolve_skus
from chegouhub.notify import services as notify
from chegouhub.realtime.events import NewEvent, record_events
from chegouhub.stores.models import Loja, WebhookStatus
from chegouhub.stores.selectors import active_loja_for_shop

from . import ledger as ledger_math
from .models import DeliveryStatus, OrderLedger, RejectionReason, WebhookDelivery, WebhookRejection

REQUIRED_HEADERS = {
    "x-shopify-topic": "X-Shopify-Topic",
    "x-shopify-hmac-sha256": "X-Shopify-Hmac-Sha256",
    "x-shopify-shop-domain": "X-Shopify-Shop-Domain",
    "x-shopify-webhook-id": "X-Shopify-Webhook-Id",
}
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
STOCK_TOPICS = ("orders/paid", "orders/cancelled", "refunds/create")
REQUIRED_TOPICS = ("orders/paid", "orders/cancelled", "refunds/create", "app/uninstalled")


class WebhookRejected(Exception):
    def __init__(self, status: int, erro: str, *, loja_id: int | None = None, topic: str = ""):
        super().__init__(erro)
        self.status = status
        self.erro = erro
        self.loja_id = loja_id
        self.topic = topic


@dataclass(frozen=True)
class VerifiedWebhook:
    loja_id: int
    owner_id: int
    shop_domain: str
    topic: str
    webhook_id: str
    event_id: str | None
    api_version: str
    triggered_at: str
    body: bytes


@dataclass
class WebhookOutcome:
    http_status: int
    body: dict


@dataclass
class ProcessResult:
    status: str = DeliveryStatus.PROCESSED
    order_id: int | None = None
    unmapped_skus: list = field(default_factory=list)


def compute_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_webhook(*, headers: Mapping[str, str], body: bytes) -> VerifiedWebhook:
    """Check headers, shop domain, loja and HMAC over the raw bytes. Raises WebhookRejected."""
    h = {k.lower(): v for k, v in headers.items()}
    missing = [name for key, name in REQUIRED_HEADERS.items() if not h.get(key, "").strip()]
    if missing:
        raise WebhookRejected(400, f"Cabeçalho obrigatório ausente: {', '.join(missing)}.")
    topic = h["x-shopify-topic"].strip()
    shop = h["x-shopify-shop-domain"].strip().lower()
    if not SHOP_DOMAIN.match(shop):
        raise WebhookRejected(403, "Domínio da loja não é um domínio .myshopify.com.", topic=topic)
    loja = active_loja_for_shop(shop)
    if loja is None:
        raise WebhookRejected(404, "Loja não cadastrada ou inativa.", topic=topic)
    if not loja["secret"]:
        raise WebhookRejected(401, "Loja sem segredo de webhook configurado.", loja_id=loja["id"], topic=topic)
    expected = compute_hmac(body, loja["secret"])
    if not hmac.compare_digest(expected.encode(), h["x-shopify-hmac-sha256"].strip().encode()):
        raise WebhookRejected(401, "Assinatura HMAC inválida.", loja_id=loja["id"], topic=topic)
    return VerifiedWebhook(
        loja_id=loja["id"],
        owner_id=loja["owner_id"],
        shop_domain=shop,
        topic=topic,
        webhook_id=h["x-shopify-webhook-id"].strip()[:255],
        event_id=(h.get("x-shopify-event-id") or "").strip()[:255] or None,
        api_version=(h.get("x-shopify-api-version") or "").strip()[:20],
        triggered_at=(h.get("x-shopify-triggered-at") or "").strip()[:64],
        body=body,
    )


def receive_webhook(*, headers: Mapping[str, str], body: bytes, remote_ip: str) -> WebhookOutcome:
    """The receiver's one action. Database errors propagate (the view answers 503)."""
    started = time.perf_counter()
    try:
        if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
            raise WebhookRejected(413, "Corpo maior que o limite de 5 MiB.")
        verified = verify_webhook(headers=headers, body=body)
    except WebhookRejected as rejected:
        return _reject(rejected, remote_ip)
    outcome = store_and_process(verified)
    metrics.WEBHOOK_LATENCY.observe(time.perf_counter() - started)
    return outcome


def _reject(rejected: WebhookRejected, remote_ip: str) -> WebhookOutcome:
    if rejected.status == 401 and rejected.loja_id is not None:
        WebhookRejection.objects.create(
            loja_id=rejected.loja_id, topic=rejected.topic[:100], reason=RejectionReason.HMAC_INVALID
        )
    metrics.WEBHOOKS.labels(topic=rejected.topic[:50] or "-", outcome=f"rejected_{rejected.status}").inc()
    webhook_log.warning(
        "webhook rejected", extra={"status": rejected.status, "reason": rejected.erro, "topic": rejected.topic[:100]}
    )
    if _count_failure(remote_ip) > settings.WEBHOOK_FAILED_REQUESTS_PER_MINUTE:
        return WebhookOutcome(429, {"erro": "Muitas requisições inválidas deste endereço; aguarde um minuto."})
    return WebhookOutcome(rejected.status, {"erro": rejected.erro})


def _count_failure(remote_ip: str) -> int:
    """Failed requests from this address in the current minute (shared via the cache)."""
    key = f"webhook-failures:{remote_ip}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, 120)
        return cache.incr(key)
    except Exception:  # a cache outage must not turn into a 500
        return 0


def store_and_process(verified: VerifiedWebhook) -> WebhookOutcome:
    topic = verified.topic
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    loja_id=verified.loja_id,
                    shop_domain=verified.shop_domain,
                    topic=topic[:100],
                    webhook_id=verified.webhook_id,
                    event_id=verified.event_id,
                    api_version=verified.api_version,
                    triggered_at=verified.triggered_at,
                    body=verified.body,
                    attempts=1,
                )
        except IntegrityError:
            WebhookRejection.objects.create(loja_id=verified.loja_id, topic=topic[:100], reason=RejectionReason.DUPLICATE)
            metrics.WEBHOOKS.labels(topic=topic[:50], outcome="duplicate").inc()
            webhook_log.info("duplicate webhook ignored", extra={"topic": topic, "loja_id": verified.loja_id})
            return WebhookOutcome(200, {"status": "duplicate"})

        payload = _parse_payload(verified.body)
        if payload is None:
            delivery.status = DeliveryStatus.INVALID
            delivery.last_error = "O corpo não é um objeto JSON."
            delivery.save(update_fields=["status", "last_error"])
            metrics.WEBHOOKS.labels(topic=topic[:50], outcome="invalid").inc()
            webhook_log.warning("webhook body is not a JSON object; kept", extra={"delivery_id": delivery.pk})
            return WebhookOutcome(400, {"erro": "O corpo não é um objeto JSON; a entrega foi guardada para inspeção."})

        try:
            with transaction.atomic():
                result = process_delivery(delivery, payload)
        except Exception as exc:
            if _is_database_outage(exc):
                raise
            _mark_failed(delivery, exc)
            metrics.WEBHOOKS.labels(topic=topic[:50], outcome="failed").inc()
            return WebhookOutcome(200, {"status": "accepted"})
    metrics.WEBHOOKS.labels(topic=topic[:50], outcome=result.status).inc()
    return WebhookOutcome(200, {"status": "ignored" if result.status == DeliveryStatus.IGNORED else "processed"})


def _is_database_outage(exc: Exception) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError))


def _parse_payload(body: bytes) -> dict | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _mark_failed(delivery: WebhookDelivery, exc: Exception) -> None:
    dead = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    delivery.status = DeliveryStatus.DEAD if dead else DeliveryStatus.FAILED
    # Only the type: the message may quote the payload.
    delivery.last_error = f"{type(exc).__name__}"[:500]
    delay = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1), 3600)
    delivery.next_attempt_at = None if dead else timezone.now() + timedelta(seconds=delay)
    delivery.claimed_until = None
    delivery.save(update_fields=["status", "last_error", "next_attempt_at", "claimed_until"])
    webhook_log.error(
        "webhook processing failed",
        extra={
            "delivery_id": delivery.pk,
            "topic": delivery.topic,
            "attempts": delivery.attempts,
            "dead": dead,
            "error_type": type(exc).__name__,
        },
    )


def process_delivery(delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    """Apply one stored delivery. Runs inside the caller's transaction; safe to run again."""
    handler = TOPIC_HANDLERS.get(delivery.topic)
    result = handler(delivery=delivery, payload=payload) if handler else ProcessResult(status=DeliveryStatus.IGNORED)
    delivery.status = result.status
    delivery.order_id = result.order_id
    delivery.unmapped_skus = result.unmapped_skus
    delivery.processed_at = timezone.now()
    delivery.last_error = ""
    delivery.next_attempt_at = None
    delivery.claimed_until = None
    delivery.save(
        update_fields=["status", "order_id", "unmapped_skus", "processed_at", "last_error", "next_attempt_at",
                       "claimed_until"]
    )
    webhook_log.info(
        "webhook processed",
        extra={"delivery_id": delivery.pk, "topic": delivery.topic, "loja_id": delivery.loja_id,
               "status": result.status, "order_id": result.order_id, "unmapped": len(result.unmapped_skus)},
    )
    return result


# --- the order ledger -------------------------------------------------------------------------


def _lock_ledger(loja_id: int, order_id: int) -> OrderLedger:
    qs = OrderLedger.objects.select_for_update()
    try:
        return qs.get(loja_id=loja_id, order_id=order_id)
    except OrderLedger.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return OrderLedger.objects.create(loja_id=loja_id, order_id=order_id)
    except IntegrityError:  # created concurrently: wait for its lock
        return qs.get(loja_id=loja_id, order_id=order_id)


def _order_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("payload has no numeric order id") from None


def _record_order_facts(ledger: OrderLedger, order: dict) -> None:
    """Facts any orders/* payload may carry: a cancellation and embedded refunds."""
    if order.get("cancelled_at"):
        ledger.cancelled = True
    for refund in order.get("refunds") or []:
        if isinstance(refund, dict) and refund.get("id") is not None:
            ledger.refunds.setdefault(str(refund["id"]), ledger_math.refund_restocks(refund))
    if order.get("name") and not ledger.order_name:
        ledger.order_name = str(order["name"])[:100]


def _settle(ledger: OrderLedger, *, origem: str, referencia: str) -> list[StockChange]:
    """Apply what the facts now require and nothing else; record it as applied."""
    mapped = {k: v for k, v in ledger.paid_lines.items() if v.get("produto_id")}
    deltas = ledger_math.pending_deltas(
        paid=ledger.paid,
        cancelled=ledger.cancelled,
        paid_lines=mapped,
        refunds=ledger.refunds,
        applied=ledger.applied,
    )
    by_produto: dict[int, int] = {}
    for line_id, delta in deltas.items():
        produto_id = mapped[line_id]["produto_id"]
        by_produto[produto_id] = by_produto.get(produto_id, 0) + delta
        ledger.applied[line_id] = ledger.applied.get(line_id, 0) + delta
    ledger.save()
    return apply_stock_changes(loja_id=ledger.loja_id, deltas=by_produto, origem=origem, referencia=referencia)


def apply_order_paid(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    order_id = _order_id(payload.get("id"))
    ledger = _lock_ledger(delivery.loja_id, order_id)
    first_time = not ledger.paid
    unmapped: list = []
    if first_time:
        lines = [li for li in payload.get("line_items") or [] if isinstance(li, dict)]
        skus = {str(li["sku"]).strip() for li in lines if li.get("sku")}
        produto_by_sku = resolve_skus(loja_id=delivery.loja_id, skus=skus)
        ledger.paid_lines, unmapped = paid_lines_for(lines, produto_by_sku)
        ledger.paid = True
    _record_order_facts(ledger, payload)
    changes = _settle(ledger, origem=Origem.PEDIDO_PAGO, referencia=str(order_id))
    if first_time:
        record_events([_sale_event(ledger, changes, unmapped)])
    return ProcessResult(order_id=order_id, unmapped_skus=unmapped)


def paid_lines_for(lines: list[dict], produto_by_sku: dict[str, int]) -> tuple[dict, list]:
    """The ledger's paid lines of an order ({line_id: {sku, produto_id, quantidade}}) and its unmapped SKUs."""
    paid_lines, unmapped = {}, []
    for index, li in enumerate(lines):
        sku = str(li["sku"]).strip() if li.get("sku") else None
        produto_id = produto_by_sku.get(sku) if sku else None
        if produto_id is None:
            unmapped.append(sku)
        line_id = str(li.get("id", f"idx-{index}"))
        paid_lines[line_id] = {"sku": sku, "produto_id": produto_id, "quantidade": ledger_math.line_quantity(li)}
    return paid_lines, unmapped


def _sale_event(ledger: OrderLedger, changes: list[StockChange], unmapped: list) -> NewEvent:
    return NewEvent(
        type="venda_shopify_processada",
        loja_id=ledger.loja_id,
        data={
            "loja_id": ledger.loja_id,
            "order_id": ledger.order_id,
            "order_name": ledger.order_name,
            "itens": [
                {
                    "sku": c.produto.sku,
                    "produto_id": c.produto.pk,
                    "quantidade": -c.quantidade,
                    "estoque_anterior": c.estoque_anterior,
                    "estoque_atual": c.estoque_atual,
                }
                for c in changes
            ],
            "nao_mapeados": unmapped,
        },
    )


def apply_order_cancelled(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    order_id = _order_id(payload.get("id"))
    ledger = _lock_ledger(delivery.loja_id, order_id)
    ledger.cancelled = True
    _record_order_facts(ledger, payload)
    _settle(ledger, origem=Origem.PEDIDO_CANCELADO, referencia=str(order_id))
    return ProcessResult(order_id=order_id)


def apply_refund(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    order_id = _order_id(payload.get("order_id"))
    if payload.get("id") is None:
        raise ValueError("refund payload has no id")
    refund_id = str(payload["id"])
    ledger = _lock_ledger(delivery.loja_id, order_id)
    ledger.refunds.setdefault(refund_id, ledger_math.refund_restocks(payload))
    _settle(ledger, origem=Origem.REEMBOLSO, referencia=refund_id)
    return ProcessResult(order_id=order_id)


def mark_app_uninstalled(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    loja = Loja.objects.select_for_update().get(pk=delivery.loja_id)
    set_webhook_status(loja, WebhookStatus.UNINSTALLED, "O app foi desinstalado da loja; webhooks removidos.")
    return ProcessResult()


def set_webhook_status(loja: Loja, status: str, detalhes: str) -> None:
    """Record a loja's subscription state and tell its users when it changed."""
    changed = loja.webhook_status != status
    loja.webhook_status = status
    loja.webhook_checked_at = timezone.now()
    loja.save(update_fields=["webhook_status", "webhook_checked_at"])
    if changed:
        notify.subscription_status_changed(loja, status, detalhes)  # Slack/Discord outbox, sent after commit
        record_events(
            [
                NewEvent(
                    type="webhook_status_change",
                    loja_id=loja.pk,
                    user_id=loja.owner_id,
                    priority="alta" if status in (WebhookStatus.UNINSTALLED, WebhookStatus.REMOVED) else "normal",
                    data={"loja_id": loja.pk, "shop_domain": loja.shop_domain, "status": status, "detalhes": detalhes},
                )
            ]
        )


TOPIC_HANDLERS = {
    "orders/paid": apply_order_paid,
    "orders/cancelled": apply_order_cancelled,
    "refunds/create": apply_refund,
    "app/uninstalled": mark_app_uninstalled,
}


# --- retries ----------------------------------------------------------------------------------


def claim_due_deliveries(*, limit: int = 50, lease_seconds: int = 60) -> list[int]:
    """Claim failed deliveries that are due, atomically: two workers never take the same one."""
    now = timezone.now()
    candidates = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    # A worker that died mid-attempt leaves `processing` with an expired lease.
    candidates += list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSING, claimed_until__lt=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    claimed = []
    for pk in candidates:
        won = (
            WebhookDelivery.objects.filter(pk=pk)
            .filter(_due(now))
            .update(status=DeliveryStatus.PROCESSING, claimed_until=now + timedelta(seconds=lease_seconds))
        )
        if won:
            claimed.append(pk)
    return claimed


def _due(now) -> Q:
    return Q(status=DeliveryStatus.FAILED, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.PROCESSING, claimed_until__lt=now
    )


def retry_delivery(delivery_id: int) -> str:
    """One more attempt at a claimed delivery; returns its new status."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
        payload = _parse_payload(bytes(delivery.body))
        if payload is None:
            delivery.status = DeliveryStatus.INVALID
            delivery.save(update_fields=["status"])
            return delivery.status
        try:
            with transaction.atomic():
                process_delivery(delivery, payload)
        except Exception as exc:
            if _is_database_outage(exc):
                raise
            _mark_failed(delivery, exc)
    return delivery.status


def replay_delivery(delivery_id: int) -> str:
    """Operator action: process a dead or failed delivery again, now."""
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=[DeliveryStatus.DEAD, DeliveryStatus.FAILED]
        ).update(status=DeliveryStatus.PROCESSING, attempts=0, next_attempt_at=None)
    if not updated:
        raise ValueError("Só entregas com falha ou mortas podem ser reprocessadas.")
    return retry_delivery(delivery_id)
