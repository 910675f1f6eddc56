"""The lean webhook route: `POST /api/estoque/webhook/shopify/` beside Django, on PostgreSQL.

Django's request stack alone costs about two thirds of what this machine can do per webhook
(docs/benchmark.md), so the common case of a flash sale, a first `orders/paid` delivery of a
known, active loja with a valid signature, is served here by a raw ASGI handler with async
psycopg and a connection pool, in one transaction of set-based SQL:

  1. resolve the SKUs (explicit mapeamento first, then equal sku) in one SELECT;
  2. one statement: the inbox row (raw body, `ON CONFLICT DO NOTHING`), the order's ledger row
     (`ON CONFLICT DO NOTHING`), the touched products locked in primary-key order and changed by
     one `UPDATE ... FROM (VALUES) RETURNING`, their movements, and the products' active alerts;
  3. the scope's event-log lock, the events (with the scope's previous id), COMMIT: pipelined.

Then the events are published (after commit) and the answer sent. Everything else (a missing or
wrong header, an unknown or uncached loja, a bad signature, a body over the limit or not a JSON
object, another topic, a repeat, an order the ledger already knows, a stock alert to open or
resolve) goes to the same code as the
Django view (`receive_webhook`), in a thread, so every rule of CONTRACT section 4 has one
implementation. The ledger arithmetic, the alert rules and the event shapes are the same
functions as the ORM path's. SQLite (the embedded default) always uses the Django view.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from datetime import UTC, datetime

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, close_old_connections, connections
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from chegouhub.common import metrics
from chegouhub.common.logging import estoque_log, webhook_log
from chegouhub.inventory.models import Origem, Produto
from chegouhub.inventory.services import StockChange, _stock_event
from chegouhub.realtime import events as event_log
from chegouhub.stores import selectors as loja_selectors
from chegouhub.stores.models import Loja

from . import ledger as ledger_math
from .models import DeliveryStatus, OrderLedger
from .services import (
    REQUIRED_HEADERS,
    SHOP_DOMAIN,
    _record_order_facts,
    _sale_event,
    compute_hmac,
    paid_lines_for,
    receive_webhook,
)

PATH = "/api/estoque/webhook/shopify/"
UNAVAILABLE = {"erro": "Banco de dados indisponível; a Shopify vai reenviar."}

RESOLVE_SQL = """
SELECT s.sku, COALESCE(m.produto_id, p.id)
FROM unnest(%(skus)s::text[]) AS s(sku)
LEFT JOIN inventory_mapeamento m ON m.loja_id = %(loja)s AND m.shopify_sku = s.sku
LEFT JOIN inventory_produto p ON p.loja_id = %(loja)s AND p.sku = s.sku
"""

APPLY_SQL = """
WITH d AS (
  INSERT INTO shopify_webhookdelivery (loja_id, shop_domain, topic, webhook_id, event_id, api_version, triggered_at,
    body, status, attempts, last_error, order_id, unmapped_skus, duplicates, created_at, processed_at)
  VALUES (%(loja)s, %(shop)s, %(topic)s, %(wid)s, %(eid)s, %(ver)s, %(trig)s, %(body)s, %(status)s, 1, '',
    %(oid)s, %(unmapped)s, 0, %(now)s, %(now)s)
  ON CONFLICT DO NOTHING RETURNING id
), l AS (
  INSERT INTO shopify_orderledger (loja_id, order_id, order_name, paid, cancelled, paid_lines, refunds, applied,
    updated_at)
  SELECT %(loja)s, %(oid)s, %(oname)s, true, %(cancelled)s, %(paid_lines)s, %(refunds)s, %(applied)s, %(now)s
  WHERE EXISTS (SELECT 1 FROM d)
  ON CONFLICT (loja_id, order_id) DO NOTHING RETURNING id
), delta AS (
  SELECT * FROM unnest(%(pids)s::bigint[], %(deltas)s::int[]) AS x(produto_id, q)
), locked AS MATERIALIZED (
  SELECT p.id FROM inventory_produto p
  WHERE p.loja_id = %(loja)s AND p.id = ANY(%(pids)s::bigint[]) AND EXISTS (SELECT 1 FROM l)
  ORDER BY p.id FOR UPDATE
), upd AS (
  UPDATE inventory_produto p SET estoque_atual = p.estoque_atual + delta.q, updated_at = %(now)s
  FROM locked JOIN delta ON delta.produto_id = locked.id WHERE p.id = locked.id
  RETURNING p.id, p.sku, p.nome, p.estoque_minimo, p.estoque_atual - delta.q AS antes, p.estoque_atual AS depois,
    delta.q
), mov AS (
  INSERT INTO inventory_movimentacao (produto_id, loja_id, quantidade, estoque_anterior, estoque_atual, origem,
    referencia, motivo, created_at)
  SELECT id, %(loja)s, q, antes, depois, %(origem)s, %(ref)s, '', %(now)s FROM upd ORDER BY id
)
SELECT (SELECT id FROM d), (SELECT id FROM l), u.id, u.sku, u.nome, u.estoque_minimo, u.antes, u.depois, u.q,
  (SELECT array_agg(a.tipo || ':' || a.id) FROM inventory_alerta a WHERE a.produto_id = u.id AND a.status = 'ativo')
FROM (SELECT 1) one LEFT JOIN upd u ON true
ORDER BY u.id
"""

EVENTS_SQL = """
WITH prev AS (
  SELECT COALESCE(max(id), 0) AS m FROM realtime_event WHERE stream = 'estoque' AND loja_id = %(loja)s
), ev AS (
  INSERT INTO realtime_event (stream, type, loja_id, user_id, priority, data, created_at)
  SELECT 'estoque', e.t, %(loja)s, NULL, e.p, e.d, %(now)s
  FROM unnest(%(types)s::text[], %(prios)s::text[], %(datas)s::jsonb[]) WITH ORDINALITY AS e(t, p, d, n)
  ORDER BY e.n
  RETURNING id
)
SELECT (SELECT m FROM prev), (SELECT array_agg(id ORDER BY id) FROM ev)
"""


class _Fallback(Exception):
    """Not the lean case after all: the transaction is rolled back and the Django code takes it."""


# --- the pool -----------------------------------------------------------------------------------

_pools: dict[int, tuple[asyncio.AbstractEventLoop, AsyncConnectionPool]] = {}


def _conn_kwargs() -> dict:
    db = connections["default"].settings_dict
    kwargs = {"dbname": db["NAME"], "autocommit": True, "options": "-c timezone=UTC"}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key):
            kwargs[name] = str(db[key])
    kwargs["connect_timeout"] = db.get("OPTIONS", {}).get("connect_timeout", 5)
    return kwargs


async def _pool() -> AsyncConnectionPool:
    """This event loop's pool (one per worker process; a test's loop gets its own)."""
    loop = asyncio.get_running_loop()
    entry = _pools.get(id(loop))
    if entry is None or entry[0] is not loop:
        pool = AsyncConnectionPool(
            # All connections opened up front (in the background): the first burst does not wait
            # for the pool to grow one backend at a time.
            kwargs=_conn_kwargs(), min_size=settings.WEBHOOK_DB_POOL_SIZE, max_size=settings.WEBHOOK_DB_POOL_SIZE,
            open=False,
            timeout=settings.WEBHOOK_DB_POOL_TIMEOUT, name="webhook",
        )
        _pools[id(loop)] = entry = (loop, pool)
        await pool.open(wait=False)
    return entry[1]


async def close_pools() -> None:
    """Close this loop's pool and forget the pools of loops that are gone (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    for key, (pool_loop, pool) in list(_pools.items()):
        if pool_loop is loop:
            await pool.close()
        if pool_loop is loop or pool_loop.is_closed():
            del _pools[key]


def enabled() -> bool:
    return bool(settings.WEBHOOK_FAST_PATH) and connections["default"].vendor == "postgresql"


# --- the ASGI route -----------------------------------------------------------------------------


class LeanWebhookRoute:
    """Wraps Django's ASGI app: the webhook endpoint is served here, everything else by Django."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.lean = enabled()

    async def __call__(self, scope, receive, send):
        if self.lean and scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            return await handle(scope, receive, send)
        return await self.django_app(scope, receive, send)


async def _respond(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, declared: str | None) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if declared and declared.isdigit() and int(declared) > limit:
        return b"x" * (limit + 1)  # rejected by size without reading it (as the Django view does)
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"x" * (limit + 1)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _django_receive(headers: dict, body: bytes, remote_ip: str) -> tuple[int, dict]:
    """The Django view's work, for every case the lean path does not take (run in a thread)."""
    close_old_connections()
    try:
        outcome = receive_webhook(headers=headers, body=body, remote_ip=remote_ip)
    except DatabaseError as exc:
        webhook_log.error("database unavailable; asking Shopify to retry", extra={"error_type": type(exc).__name__})
        return 503, UNAVAILABLE
    finally:
        close_old_connections()
    return outcome.http_status, outcome.body


async def handle(scope, receive, send) -> None:
    started = time.perf_counter()
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    body = await _read_body(receive, headers.get("content-length"))
    remote_ip = (scope.get("client") or ("unknown",))[0] or "unknown"
    lean = await _lean_case(headers, body)
    if lean is not None:
        try:
            status, payload = await _process(lean, body, started)
        except _Fallback:
            lean = None
    if lean is None:
        status, payload = await sync_to_async(_django_receive, thread_sensitive=True)(headers, body, remote_ip)
    await _respond(send, status, payload)


async def _active_loja(shop: str) -> dict | None:
    """`active_loja_for_shop` without a thread: the same cache entry, filled from the pool on a miss."""
    key = f"loja-by-shop:{shop}"
    cached = caches["local"].get(key)
    if cached is not None:
        return cached or None
    try:
        pool = await _pool()
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, owner_id, webhook_secret, ativo FROM stores_loja WHERE shop_domain = %s", [shop])
            row = await cur.fetchone()
    except (psycopg.Error, PoolTimeout):
        return None  # the Django path looks again and answers (503 if the database is down)
    secret_field = Loja._meta.get_field("webhook_secret")
    value = ({"id": row[0], "owner_id": row[1], "secret": secret_field.from_db_value(row[2], None, None)}
             if row is not None and row[3] else {})
    caches["local"].set(key, value, loja_selectors._CACHE_SECONDS)
    return value or None


async def _lean_case(h: dict, body: bytes) -> dict | None:
    """The verified first-sight `orders/paid` of a cached active loja, parsed; None for anything else."""
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return None
    if any(not h.get(key, "").strip() for key in REQUIRED_HEADERS):
        return None
    topic = h["x-shopify-topic"].strip()
    shop = h["x-shopify-shop-domain"].strip().lower()
    if topic != "orders/paid" or not SHOP_DOMAIN.match(shop):
        return None
    loja = await _active_loja(shop)
    if not loja or not loja.get("secret"):
        return None  # unknown or inactive: the Django path answers 404 (or 401 without a secret)
    if not hmac.compare_digest(compute_hmac(body, loja["secret"]).encode(), h["x-shopify-hmac-sha256"].strip().encode()):
        return None
    try:
        payload = json.loads(body)
        order_id = int(payload["id"])
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    return {
        "loja": loja, "shop": shop, "topic": topic, "payload": payload, "order_id": order_id,
        "webhook_id": h["x-shopify-webhook-id"].strip()[:255],
        "event_id": (h.get("x-shopify-event-id") or "").strip()[:255] or None,
        "api_version": (h.get("x-shopify-api-version") or "").strip()[:20],
        "triggered_at": (h.get("x-shopify-triggered-at") or "").strip()[:64],
    }


async def _process(case: dict, body: bytes, started: float) -> tuple[int, dict]:
    loja_id = case["loja"]["id"]
    payload = case["payload"]
    order_id = case["order_id"]
    lines = [li for li in payload.get("line_items") or [] if isinstance(li, dict)]
    skus = sorted({str(li["sku"]).strip() for li in lines if li.get("sku")})
    now = datetime.now(UTC)
    try:
        pool = await _pool()
        async with pool.connection() as conn:
            async with conn.pipeline(), conn.transaction():
                produto_by_sku = {}
                if skus:
                    cur = await conn.execute(RESOLVE_SQL, {"skus": skus, "loja": loja_id})
                    produto_by_sku = {sku: pid for sku, pid in await cur.fetchall() if pid is not None}
                # The same facts and arithmetic as apply_order_paid on a ledger seen for the first time.
                ledger = OrderLedger(loja_id=loja_id, order_id=order_id, paid=True, cancelled=False, paid_lines={},
                                     refunds={}, applied={}, order_name="")
                ledger.paid_lines, unmapped = paid_lines_for(lines, produto_by_sku)
                _record_order_facts(ledger, payload)
                mapped = {k: v for k, v in ledger.paid_lines.items() if v.get("produto_id")}
                deltas = ledger_math.pending_deltas(paid=True, cancelled=ledger.cancelled, paid_lines=mapped,
                                                    refunds=ledger.refunds, applied={})
                by_produto: dict[int, int] = {}
                for line_id, delta in deltas.items():
                    produto_id = mapped[line_id]["produto_id"]
                    by_produto[produto_id] = by_produto.get(produto_id, 0) + delta
                    ledger.applied[line_id] = ledger.applied.get(line_id, 0) + delta
                by_produto = {pid: d for pid, d in sorted(by_produto.items()) if d}
                cur = await conn.execute(APPLY_SQL, {
                    "loja": loja_id, "shop": case["shop"], "topic": case["topic"][:100], "wid": case["webhook_id"],
                    "eid": case["event_id"], "ver": case["api_version"], "trig": case["triggered_at"], "body": body,
                    "status": DeliveryStatus.PROCESSED.value, "oid": order_id, "unmapped": Jsonb(unmapped), "now": now,
                    "oname": ledger.order_name, "cancelled": ledger.cancelled, "paid_lines": Jsonb(ledger.paid_lines),
                    "refunds": Jsonb(ledger.refunds), "applied": Jsonb(ledger.applied),
                    "pids": list(by_produto), "deltas": list(by_produto.values()),
                    "origem": Origem.PEDIDO_PAGO.value, "ref": str(order_id),
                })
                rows = await cur.fetchall()
                if rows[0][0] is None or rows[0][1] is None:
                    raise _Fallback  # a repeat, or an order the ledger already knows: the general path
                changes, active = [], {}
                for _d, _l, pid, sku, nome, minimo, antes, depois, q, alerts in rows:
                    if pid is None:
                        continue
                    produto = Produto(pk=pid, loja_id=loja_id, sku=sku, nome=nome, estoque_minimo=minimo)
                    changes.append(StockChange(produto=produto, quantidade=q, estoque_anterior=antes,
                                               estoque_atual=depois, movimentacao=None))
                    for entry in alerts or []:
                        tipo, alerta_id = entry.split(":")
                        active[(pid, tipo)] = int(alerta_id)
                if len(changes) != len(by_produto):
                    raise _Fallback  # a produto vanished between resolving and locking
                if any(c.estoque_atual <= max(c.produto.estoque_minimo, 0) for c in changes) or active:
                    # A threshold crossed or an alert to resolve: the ORM path opens, resolves, notifies.
                    raise _Fallback
                new_events = [_stock_event(loja_id, c, Origem.PEDIDO_PAGO) for c in changes]
                new_events.append(_sale_event(ledger, changes, unmapped))
                for e in new_events:
                    event_log.check_schema(e)
                # The scope's event-log lock is taken last and held only through the insert and the
                # commit (events.py, "Ordering and gaps"). Their results are read only after the
                # block: the lock, the insert and the COMMIT go to PostgreSQL in one round trip, so
                # the lock is never held while this process's event loop is busy elsewhere.
                await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                                   event_log.stock_lock_key(loja_id))
                events_cur = await conn.execute(EVENTS_SQL, {
                    "loja": loja_id, "now": now, "types": [e.type for e in new_events],
                    "prios": [e.priority for e in new_events],
                    "datas": [Jsonb(e.data) for e in new_events],
                })
            prev_id, ids = await events_cur.fetchone()  # committed
    except _Fallback:
        raise
    except (psycopg.OperationalError, PoolTimeout) as exc:
        webhook_log.error("database unavailable; asking Shopify to retry", extra={"error_type": type(exc).__name__})
        return 503, UNAVAILABLE
    except Exception as exc:  # anything else (a payload its arithmetic cannot read): the general path
        # decides and records it (stored as failed, answered "accepted"), never a 500.
        webhook_log.warning("lean webhook path gave way to the general path",
                            extra={"error_type": type(exc).__name__})
        raise _Fallback from exc
    messages = []
    group = event_log.loja_group(loja_id)
    for new, event_id in zip(new_events, ids):
        payload_ = {"type": new.type, "data": new.data, "id": event_id, "timestamp": now.isoformat(),
                    "priority": new.priority}
        messages.append(event_log.GroupMessage(group, payload_, prev_id))
        prev_id = event_id
    await event_log.apublish(messages)
    for c in changes:
        estoque_log.info("stock changed", extra={
            "loja_id": loja_id, "produto_id": c.produto.pk, "sku": c.produto.sku, "quantidade": c.quantidade,
            "estoque_anterior": c.estoque_anterior, "estoque_atual": c.estoque_atual,
            "origem": Origem.PEDIDO_PAGO, "referencia": str(order_id)})
    webhook_log.info("webhook processed", extra={
        "topic": case["topic"], "loja_id": loja_id, "status": DeliveryStatus.PROCESSED, "order_id": order_id,
        "unmapped": len(unmapped), "path": "lean"})
    metrics.WEBHOOK_LATENCY.observe(time.perf_counter() - started)
    metrics.WEBHOOKS.labels(topic=case["topic"], outcome="processed").inc()  # as the Django view counts
    return 200, {"status": "processed"}
