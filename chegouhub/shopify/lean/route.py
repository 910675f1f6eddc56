"""The lean webhook route: `POST /api/estoque/webhook/shopify/` beside Django, on PostgreSQL.

Django's request stack alone costs about two thirds of what this machine can do per webhook
(docs/benchmark.md), so the common case of a flash sale, a first `orders/paid` delivery of a known,
active loja with a valid signature, is served here by a raw ASGI handler with async psycopg: the
request is verified by verification.py and read by `ledger.read_facts` (the Django path's very
functions), then applied in a batch (batch.py). Everything else (a missing, repeated or wrong
header, an unknown or uncached loja, a bad signature, a body over the limit or not a JSON object,
another topic, a batch that gave way) goes to the same code as the Django view
(`receive_webhook`), in a thread, so every rule of CONTRACT section 4 has one implementation.
"""

from __future__ import annotations

import json
import time

import orjson
import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from psycopg_pool import PoolTimeout

from chegouhub.common import jsonparse
from chegouhub.common.logging import webhook_log
from chegouhub.stores import selectors as loja_selectors
from chegouhub.stores.fields import UndecryptableCredential
from chegouhub.stores.models import Loja

from .. import ledger
from ..services import receive_webhook
from ..verification import WebhookRejected, check_size, read_headers, verify
from . import batch
from . import pool as lean_pool

PATH = settings.WEBHOOK_PATH
UNAVAILABLE = batch.UNAVAILABLE


def enabled() -> bool:
    return bool(settings.WEBHOOK_FAST_PATH)




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


async def _read_body(receive) -> bytes | None:
    """The whole body, or None when the client went away (nothing to answer). Bodies over the
    limit never get here: common/body_limit.py refuses them before they are read."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _django_receive(headers: list[tuple[str, str]], body: bytes, remote_ip: str) -> tuple[int, dict]:
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
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    body = await _read_body(receive)
    if body is None:
        return  # the client left: nothing was read whole, nothing is done
    remote_ip = (scope.get("client") or ("unknown",))[0] or "unknown"
    lean = await _lean_case(headers, body)
    answer = await batch.batcher().submit(lean, body, started) if lean is not None else None
    if answer is not None:
        status, payload = answer
    else:
        status, payload = await sync_to_async(_django_receive, thread_sensitive=True)(headers, body, remote_ip)
    await _respond(send, status, payload)


async def _active_loja(shop: str) -> dict | None:
    """`active_loja_for_shop` without a thread: the same cache entry, filled from the pool on a miss."""
    key = loja_selectors.loja_cache_key(shop)
    cached = loja_selectors.loja_cache().get(key)
    if cached is not None:
        return cached or None
    try:
        pool = await lean_pool.pool()
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, owner_id, webhook_secret, ativo FROM stores_loja WHERE shop_domain = %s", [shop])
            row = await cur.fetchone()
    except (psycopg.Error, PoolTimeout):
        return None  # the Django path looks again and answers (503 if the database is down)
    secret_field = Loja._meta.get_field("webhook_secret")
    try:
        value = ({"id": row[0], "owner_id": row[1], "secret": secret_field.from_db_value(row[2], None, None)}
                 if row is not None and row[3] else {})
    except UndecryptableCredential:
        return None  # the Django path answers it (503, logged once per loja)
    loja_selectors.loja_cache().set(key, value, loja_selectors.loja_cache_seconds())
    return value or None


async def _lean_case(pairs: list[tuple[str, str]], body: bytes) -> batch.LeanCase | None:
    """The verified `orders/paid` of a cached active loja, with its facts; None for anything else.

    Verification is verification.py's, as on the Django path; whatever it refuses is answered there.
    """
    try:
        check_size(len(body), settings.WEBHOOK_MAX_BODY_BYTES)
        headers = read_headers(pairs)
        if headers.topic != "orders/paid":
            return None
        verified = verify(headers, body, await _active_loja(headers.shop_domain))
    except WebhookRejected:
        return None  # the Django path answers it (and counts it)
    try:
        # orjson reads what json does, three times faster; what it refuses (integers beyond 64
        # bits, NaN, UTF-16) goes to the Django path, which reads it with json.
        payload = orjson.loads(body)
        # The limit the Django path reads with (orjson's own is 1,024 levels).
        jsonparse.check_depth(payload, body)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not _ids_exact(payload):
        return None
    try:
        facts = ledger.read_facts(headers.topic, payload)
    except ledger.UnreadableOrder:
        return None  # the Django path records what it cannot read
    return batch.LeanCase(verified, facts)


def _ids_exact(payload: dict) -> bool:
    """False where orjson read an id, SKU or name as a float: it reads integers beyond 64 bits so,
    where json keeps them exact, and the ledger would name them otherwise than the Django path."""
    if isinstance(payload.get("id"), float) or isinstance(payload.get("name"), float):
        return False
    lines = payload.get("line_items") or []
    if not isinstance(lines, list):
        return True  # read_facts refuses it
    lines = [li for li in lines if isinstance(li, dict)]
    if any(isinstance(li.get("id"), float) or isinstance(li.get("sku"), float) for li in lines):
        return False
    refunds = payload.get("refunds") or []
    if not isinstance(refunds, list):
        return False
    for refund in refunds:
        if isinstance(refund, dict):
            items = refund.get("refund_line_items") or []
            if isinstance(refund.get("id"), float) or not isinstance(items, list) or any(
                    isinstance(i, dict) and isinstance(i.get("line_item_id"), float) for i in items):
                return False
    return True

