"""Outbound alerts to the lojas' Slack and Discord incoming webhooks.

Why an outbox table: the alert row is written inside the same transaction as the fact it reports
(the stock change that opened an `estoque_zerado` alert, the subscription status change), so
there is an alert exactly when the fact committed, none for a rolled-back one, and a crash at any
point loses nothing: what was not sent yet is still `pending` in the database. After commit a
small background pool tries to send the new rows at once (a quick message, never in the request's
way: the webhook has already been answered or is answered regardless); whatever that misses
(process killed, Slack down, rate limited) is sent by the worker (`process_webhooks` drains the
outbox on every pass, or `send_alerts`) with exponential backoff, until sent or dead.

Sending is at-least-once: a sender that dies after Slack accepted a message but before marking it
sent makes it go out again after its lease expires. Two senders never hold the same row at once
(claims are conditional UPDATEs with a lease).

Payloads are the services' own: Slack `{"text": ...}`; Discord `{"content": ..., "allowed_mentions":
{"parse": []}}` (a product named "@everyone" pings nobody). Destination hosts are allow-listed
(NOTIFY_ALLOWED_HOSTS, https only unless NOTIFY_REQUIRE_HTTPS=false): the URL is user input and the
server must not be made to POST to arbitrary internal addresses. URLs carry secrets: never logged.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from chegouhub.stores.models import Loja

from . import metrics

from .models import Channel, OutboundAlert, OutboundStatus

log = logging.getLogger("chegouhub.notify")

LOST_STATUSES = ("removido", "desinstalado", "incompleto", "erro")
PERMANENT_HTTP = (400, 401, 403, 404, 410)
DISCORD_MAX = 2000
_executor: ThreadPoolExecutor | None = None


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- enqueue (inside the caller's transaction) ------------------------------------------------


def _destinations(loja_id: int) -> tuple[dict, list[str]]:
    row = (
        Loja.objects.filter(pk=loja_id)
        .values("nome", "shop_domain", "slack_webhook_url", "discord_webhook_url")
        .first()
    )
    if not row:
        return {}, []
    channels = [c for c, key in ((Channel.SLACK, "slack_webhook_url"), (Channel.DISCORD, "discord_webhook_url"))
                if row[key]]
    return row, channels


def _enqueue(loja_id: int, kind: str, messages: list[tuple[str, str]], channels: list[str] | None = None
             ) -> list[OutboundAlert]:
    """messages: (dedupe suffix, text). One row per configured channel; sent after commit."""
    if channels is None:
        _, channels = _destinations(loja_id)
    if not channels or not messages:
        return []
    try:
        with transaction.atomic():  # a savepoint: an outbox problem never aborts the stock change
            rows = OutboundAlert.objects.bulk_create(
                [
                    OutboundAlert(loja_id=loja_id, channel=channel, kind=kind, text=text,
                                  dedupe_key=f"{kind}:{loja_id}:{suffix}:{channel}"[:200])
                    for suffix, text in messages
                    for channel in channels
                ]
            )
    except Exception as exc:
        log.error("outbound alert not queued", extra={"loja_id": loja_id, "kind": kind,
                                                      "error_type": type(exc).__name__})
        return []
    ids = [row.pk for row in rows if row.pk]
    if ids and _setting("NOTIFY_SEND_IMMEDIATELY", True):
        transaction.on_commit(functools.partial(_kick, ids))
    return rows


def stock_alerts_opened(loja_id: int, alertas) -> None:
    """Hook: alerts were just opened (inventory); the zero-stock ones go out to Slack/Discord."""
    zero = [a for a in alertas if a.tipo == "estoque_zerado"]
    if not zero:
        return
    loja, channels = _destinations(loja_id)
    if not channels:
        return
    messages = []
    for alerta in zero:
        produto = alerta.produto
        text = (
            f"🚨 Estoque zerado — {loja.get('nome', '')}: {produto.nome} (SKU {produto.sku}) "
            f"está com estoque {alerta.estoque_atual}."
        )
        messages.append((f"alerta{alerta.pk}", text))
    _enqueue(loja_id, "estoque_zerado", messages, channels)


def subscription_status_changed(loja, status: str, detalhes: str) -> None:
    """Hook: a loja's webhook subscription state changed; a lost subscription goes out."""
    if status not in LOST_STATUSES:
        return
    text = (
        f"⚠️ Webhooks da Shopify perdidos — {loja.nome} ({loja.shop_domain}): {status}. {detalhes} "
        f"As vendas podem não atualizar o estoque até os webhooks serem reconfigurados."
    )
    _enqueue(loja.pk, "webhook_perdido", [(f"{status}:{time.time_ns()}", text)])


# --- sending ----------------------------------------------------------------------------------


def _kick(ids: list[int]) -> None:
    """After commit: hand the new rows to the background pool; never raises, never blocks."""
    global _executor
    try:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notify")
        _executor.submit(_send_now, ids)
    except Exception as exc:  # the worker will send them
        log.warning("outbound alert: background send not started", extra={"error_type": type(exc).__name__})


def _send_now(ids: list[int]) -> None:
    try:
        deliver(ids=ids)
    except Exception as exc:
        log.warning("outbound alert: immediate send failed; the worker retries",
                    extra={"error_type": type(exc).__name__})
    finally:
        connections.close_all()  # this thread's connections only


def _claimable(now) -> Q:
    return Q(status=OutboundStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) | Q(
        status=OutboundStatus.SENDING, claimed_until__lt=now
    )


def _claim(ids: list[int], lease_seconds: int) -> list[int]:
    now = timezone.now()
    won = []
    for pk in ids:
        if (
            OutboundAlert.objects.filter(pk=pk)
            .filter(_claimable(now))
            .update(status=OutboundStatus.SENDING, claimed_until=now + timedelta(seconds=lease_seconds))
        ):
            won.append(pk)
    return won


def deliver(*, ids: list[int] | None = None, limit: int = 50, lease_seconds: int = 60) -> dict[str, int]:
    """Send the given rows, or those due; returns {outcome: count}."""
    if ids is None:
        now = timezone.now()
        ids = list(OutboundAlert.objects.filter(_claimable(now)).order_by("id").values_list("pk", flat=True)[:limit])
    counts: dict[str, int] = {}
    for pk in _claim(ids, lease_seconds):
        outcome = _attempt(pk)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def allowed_destination(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if parts.scheme != "https" and _setting("NOTIFY_REQUIRE_HTTPS", True):
        return False
    hosts = _setting("NOTIFY_ALLOWED_HOSTS", ["hooks.slack.com", "discord.com", "discordapp.com"])
    return "*" in hosts or parts.hostname.lower() in {h.lower() for h in hosts}


def payload_for(channel: str, text: str) -> dict:
    if channel == Channel.SLACK:
        # Slack's control characters in text: & < > must be escaped.
        return {"text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}
    return {"content": text[:DISCORD_MAX], "allowed_mentions": {"parse": []}}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None and response.headers.get("content-type", "").startswith("application/json"):
        try:
            value = response.json().get("retry_after")  # Discord's body field, in seconds
        except Exception:
            value = None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        parsed = email.utils.parsedate_to_datetime(str(value)) if isinstance(value, str) else None
        return max(0.0, (parsed - timezone.now()).total_seconds()) if parsed else None


def _attempt(pk: int) -> str:
    row = OutboundAlert.objects.get(pk=pk)
    url = (
        Loja.objects.filter(pk=row.loja_id)
        .values_list("slack_webhook_url" if row.channel == Channel.SLACK else "discord_webhook_url", flat=True)
        .first()
    )
    row.attempts += 1
    if not url:
        return _finish(row, OutboundStatus.DEAD, "destino removido da loja")
    if not allowed_destination(url):
        return _finish(row, OutboundStatus.DEAD, "destino não permitido (NOTIFY_ALLOWED_HOSTS / https)")
    try:
        response = httpx.post(url, json=payload_for(row.channel, row.text),
                              timeout=_setting("NOTIFY_TIMEOUT_SECONDS", 5.0), follow_redirects=False)
    except httpx.HTTPError as exc:
        return _failed(row, type(exc).__name__)
    if 200 <= response.status_code < 300:
        return _finish(row, OutboundStatus.SENT, "")
    if response.status_code in PERMANENT_HTTP:
        return _finish(row, OutboundStatus.DEAD, f"HTTP {response.status_code}")
    return _failed(row, f"HTTP {response.status_code}", retry_after=_retry_after(response))


def _failed(row: OutboundAlert, error: str, retry_after: float | None = None) -> str:
    if row.attempts >= _setting("NOTIFY_MAX_ATTEMPTS", 8):
        return _finish(row, OutboundStatus.DEAD, error)
    delay = min(_setting("NOTIFY_RETRY_BASE_SECONDS", 10.0) * 2 ** (row.attempts - 1), 3600.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 3600.0))
    row.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    return _finish(row, OutboundStatus.PENDING, error)


def _finish(row: OutboundAlert, status: str, error: str) -> str:
    row.status = status
    row.last_error = error[:300]
    row.claimed_until = None
    if status == OutboundStatus.SENT:
        row.sent_at = timezone.now()
        row.next_attempt_at = None
    if status == OutboundStatus.DEAD:
        row.next_attempt_at = None
    row.save(update_fields=["status", "last_error", "claimed_until", "sent_at", "next_attempt_at", "attempts"])
    outcome = "retry" if status == OutboundStatus.PENDING else status
    metrics.OUTBOUND_ALERTS.labels(channel=row.channel, outcome=outcome).inc()
    (log.info if status == OutboundStatus.SENT else log.warning)(
        "outbound alert", extra={"alert_id": row.pk, "loja_id": row.loja_id, "channel": row.channel,
                                 "kind": row.kind, "status": status, "attempts": row.attempts, "error": error}
    )
    return outcome
