"""Shopify webhooks: verify, store raw, apply through the order ledger exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from chegouhub.common import jsonparse
from chegouhub.common.logging import webhook_log
from chegouhub.inventory.models import Origem
from chegouhub.inventory.services import StockChange, apply_stock_changes, resolve_skus
from chegouhub.notify import services as notify
from chegouhub.realtime.events import NewEvent, record_events
from chegouhub.sales.money import event_value
from chegouhub.sales.services import record_sale_values
from chegouhub.stores.models import Loja, WebhookStatus
from chegouhub.stores.selectors import CredentialUnavailable, active_loja_for_shop, loja_for_compliance

from . import ledger
from . import metrics
from .ledger import LedgerState, OrderFacts, UnreadableOrder
from .models import (DeliveryStatus, OrderLedger, RejectionReason, WebhookDailyCount, WebhookDelivery,
                     WebhookRejection)
from .verification import (  # noqa: F401 (re-exported: the project's one signing function)
    VerifiedWebhook,
    WebhookRejected,
    check_size,
    compute_hmac,
    read_headers,
    verify,
)

STOCK_TOPICS = ("orders/paid", "orders/cancelled", "refunds/create")
REQUIRED_TOPICS = ("orders/paid", "orders/cancelled", "refunds/create", "app/uninstalled")
# Shopify's mandatory compliance topics (declared in shopify.app.toml; handled by chegouhub/privacy).
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
ORIGEM_BY_TOPIC = {
    "orders/paid": Origem.PEDIDO_PAGO,
    "orders/cancelled": Origem.PEDIDO_CANCELADO,
    "refunds/create": Origem.REEMBOLSO,
}


@dataclass
class WebhookOutcome:
    http_status: int
    body: dict


@dataclass
class ProcessResult:
    status: str = DeliveryStatus.PROCESSED
    order_id: int | None = None
    unmapped_skus: list = field(default_factory=list)
    invalid_lines: list = field(default_factory=list)


def verify_webhook(*, headers: Iterable[tuple[str, str]], body: bytes) -> VerifiedWebhook:
    """Headers, shop domain, loja and HMAC over the raw bytes (verification.py). Raises WebhookRejected."""
    parsed = read_headers(headers)
    loja = active_loja_for_shop(parsed.shop_domain)
    if loja is None and parsed.topic in COMPLIANCE_TOPICS:
        # shop/redact comes 48 h after the uninstall that deactivated the loja: still heard (signed).
        loja = loja_for_compliance(parsed.shop_domain)
    return verify(parsed, body, loja)


def receive_webhook(*, headers: Iterable[tuple[str, str]], body: bytes, remote_ip: str) -> WebhookOutcome:
    """The receiver's one action. `headers` are the request's raw (name, value) pairs. Database
    errors propagate (the view answers 503)."""
    started = time.perf_counter()
    try:
        check_size(len(body), settings.WEBHOOK_MAX_BODY_BYTES)
        verified = verify_webhook(headers=headers, body=body)
    except WebhookRejected as rejected:
        return _reject(rejected, remote_ip)
    except CredentialUnavailable as exc:  # logged once per loja by the selector; Shopify retries a 503
        return WebhookOutcome(503, {"erro": exc.erro})
    outcome = store_and_process(verified)
    metrics.WEBHOOK_LATENCY.observe(time.perf_counter() - started)
    return outcome


def _reject(rejected: WebhookRejected, remote_ip: str) -> WebhookOutcome:
    failures = _count_failure(remote_ip)
    limit = settings.WEBHOOK_FAILED_REQUESTS_PER_MINUTE
    if failures > limit:
        # Limited: nothing is written, no row and no log line (a flood of forged requests must fill
        # neither a table nor the disk); one line when the limit starts refusing this address.
        metrics.WEBHOOKS.labels(topic=rejected.topic[:50] or "-", outcome="rejected_429").inc()
        if failures == limit + 1:
            webhook_log.warning("webhook failures limited for this address until the minute ends",
                                extra={"status": 429, "limit": limit})
        return WebhookOutcome(429, {"erro": "Muitas requisições inválidas deste endereço; aguarde um minuto."})
    metrics.WEBHOOKS.labels(topic=rejected.topic[:50] or "-", outcome=f"rejected_{rejected.status}").inc()
    webhook_log.warning(
        "webhook rejected", extra={"status": rejected.status, "reason": rejected.erro, "topic": rejected.topic[:100]}
    )
    if rejected.status == 401 and rejected.loja_id is not None:
        count_rejection(rejected.loja_id, RejectionReason.HMAC_INVALID)
    return WebhookOutcome(rejected.status, {"erro": rejected.erro})


def _count_failure(remote_ip: str) -> int:
    """Failed requests from this address in the current minute (shared via the cache)."""
    key = f"webhook-failures:{remote_ip}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, 120)
        return cache.incr(key)
    except Exception:  # a cache outage must not turn into a 500
        return 0


def count_rejection(loja_id: int, reason: str) -> None:
    """One more repeat or bad signature in the loja's counter of this minute (one row per loja,
    reason and minute however many arrive; old minutes are purged by `purge_rejections`)."""
    minute = timezone.now().replace(second=0, microsecond=0)
    table = WebhookRejection._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (loja_id, reason, created_at, count) VALUES (%s, %s, %s, 1) "
            f"ON CONFLICT (loja_id, reason, created_at) DO UPDATE SET count = {table}.count + 1",
            [loja_id, reason, minute],
        )


def purge_rejections(*, now=None) -> int:
    """Forget rejection counters older than WEBHOOK_REJECTION_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_REJECTION_RETENTION_DAYS)
    deleted, _ = WebhookRejection.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def prune_daily_counts(*, now=None) -> dict[str, int]:
    """Drop the stats' daily counters past their longest window (365 days), and those of lojas
    since deleted (the counters have no foreign key: see WebhookDailyCount)."""
    oldest = ((now or timezone.now()) - timedelta(days=366)).date()
    old = WebhookDailyCount.objects.filter(day__lt=oldest).delete()[0]
    orphans = WebhookDailyCount.objects.exclude(loja_id__in=Loja.objects.values("pk")).delete()[0]
    return {"daily_counts_pruned": old + orphans} if old + orphans else {}


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
            count_rejection(verified.loja_id, RejectionReason.DUPLICATE)
            metrics.WEBHOOKS.labels(topic=topic[:50], outcome="duplicate").inc()
            webhook_log.info("duplicate webhook ignored", extra={"topic": topic, "loja_id": verified.loja_id})
            return WebhookOutcome(200, {"status": "duplicate"})

        payload = parse_payload(verified.body)
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


def parse_payload(body: bytes) -> dict | None:
    try:
        payload = jsonparse.loads(body)
    except ValueError:  # not JSON, not UTF-8, or nested deeper than the limit
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
    delivery.invalid_lines = result.invalid_lines
    delivery.processed_at = timezone.now()
    delivery.last_error = ""
    delivery.next_attempt_at = None
    delivery.claimed_until = None
    delivery.save(
        update_fields=["status", "order_id", "unmapped_skus", "invalid_lines", "processed_at", "last_error", "next_attempt_at",
                       "claimed_until"]
    )
    log_processed(topic=delivery.topic, loja_id=delivery.loja_id, status=result.status, order_id=result.order_id,
                  unmapped=len(result.unmapped_skus), invalid=len(result.invalid_lines), delivery_id=delivery.pk)
    return result


def log_processed(*, topic: str, loja_id: int, status: str, order_id: int | None, unmapped: int, invalid: int,
                  delivery_id: int | None = None, path: str = "django") -> None:
    """The one `webhook.log` line of a processed delivery, whichever path applied it."""
    webhook_log.info("webhook processed", extra={
        "delivery_id": delivery_id, "topic": topic, "loja_id": loja_id, "status": status, "order_id": order_id,
        "unmapped": unmapped, "invalid": invalid, "path": path})


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


def _state(row: OrderLedger) -> LedgerState:
    return LedgerState(paid=row.paid, cancelled=row.cancelled, order_name=row.order_name,
                       paid_lines=row.paid_lines, refunds=row.refunds, applied=row.applied)


def _store_state(row: OrderLedger, state: LedgerState) -> None:
    row.paid, row.cancelled, row.order_name = state.paid, state.cancelled, state.order_name
    row.paid_lines, row.refunds, row.applied = state.paid_lines, state.refunds, state.applied
    row.save()


def apply_order_facts(*, loja_id: int, facts: OrderFacts, origem: str) -> ProcessResult:
    """Settle one delivery's facts through the ORM: the ledger row locked, what `ledger.settle`
    decides applied, and the delivery's events appended once."""
    row = _lock_ledger(loja_id, facts.order_id)
    state = _state(row)
    deposito_id = Loja.objects.filter(pk=loja_id).values_list("deposito_id", flat=True).get()
    resolution = resolve_skus(loja_id=loja_id, deposito_id=deposito_id, skus=ledger.skus_to_resolve(state, facts))
    settlement = ledger.settle(state, facts, resolution)
    _store_state(row, settlement.state)
    record_sale_values(loja_id=loja_id, order_id=facts.order_id, values=settlement.values)
    stock = apply_stock_changes(deposito_id=deposito_id, loja_id=loja_id, deltas=settlement.deltas, origem=origem,
                                referencia=facts.referencia)
    events = stock.events
    if settlement.first_paid:
        events.append(sale_event(loja_id, facts, settlement.state.order_name, stock.changes, settlement,
                                 deposito_id))
    record_events(events)
    return ProcessResult(order_id=facts.order_id, unmapped_skus=settlement.unmapped,
                         invalid_lines=settlement.invalid)


def sale_event(loja_id: int, facts: OrderFacts, order_name: str, changes: list[StockChange],
               settlement: ledger.Settlement, deposito_id: int) -> NewEvent:
    return NewEvent(
        type="venda_shopify_processada",
        loja_id=loja_id,
        deposito_id=deposito_id,
        data={
            "loja_id": loja_id,
            "deposito_id": deposito_id,
            "order_id": facts.order_id,
            "order_name": order_name,
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
            "nao_mapeados": settlement.unmapped,
            "linhas_invalidas": settlement.invalid,
            "valor": event_value(facts.value),
        },
    )


def apply_stock_topic(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    """orders/paid, orders/cancelled, refunds/create: the payload's facts, settled."""
    try:
        facts = ledger.read_facts(delivery.topic, payload)
    except UnreadableOrder as exc:
        raise ValueError(str(exc)) from None
    return apply_order_facts(loja_id=delivery.loja_id, facts=facts, origem=ORIGEM_BY_TOPIC[delivery.topic])


def mark_app_uninstalled(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    """The loja stops at once: deactivated, and its access token forgotten (nothing may call Shopify
    with a dead token). Its webhook secret stays so that the compliance webhooks still verify."""
    loja = Loja.objects.select_for_update().get(pk=delivery.loja_id)
    set_webhook_status(loja, WebhookStatus.UNINSTALLED, "O app foi desinstalado da loja; webhooks removidos.")
    loja.ativo = False
    loja.access_token = ""
    loja.save(update_fields=["ativo", "access_token"])
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
    "orders/paid": apply_stock_topic,
    "orders/cancelled": apply_stock_topic,
    "refunds/create": apply_stock_topic,
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
        payload = parse_payload(bytes(delivery.body))
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
