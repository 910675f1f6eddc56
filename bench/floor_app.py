"""The floor: a minimal raw ASGI app, no Django, doing the webhook's irreducible work.

Per delivery: the same header checks and HMAC over the raw bytes, one PostgreSQL transaction of
set-based SQL writing the same rows as the project (inbox row with the raw body, order ledger row,
products locked in primary-key order and decremented with one UPDATE ... RETURNING, the movements,
the events, the delivery marked processed), then one Redis PUBLISH after commit. What the project
reaches is stated as a fraction of this.

Configuration from the environment: FLOOR_DATABASE_URL, FLOOR_REDIS_URL, FLOOR_SHOPS (JSON
{shop_domain: [loja_id, secret]}), FLOOR_POOL (connections per process, default 8).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os

import psycopg
import redis.asyncio as aioredis

SHOPS = {k: (v[0], v[1].encode()) for k, v in json.loads(os.environ.get("FLOOR_SHOPS", "{}")).items()}
PREFIX = os.environ.get("FLOOR_CHANNEL_PREFIX", "bench-floor")

DELIVERY_SQL = """
WITH d AS (
  INSERT INTO shopify_webhookdelivery (loja_id, shop_domain, topic, webhook_id, event_id, api_version, triggered_at,
    body, status, attempts, last_error, unmapped_skus, invalid_lines, created_at)
  VALUES (%(loja)s, %(shop)s, %(topic)s, %(wid)s, %(eid)s, %(ver)s, %(trig)s, %(body)s, 'processing', 1, '', '[]', '[]',
    now())
  ON CONFLICT DO NOTHING RETURNING id
), l AS (
  INSERT INTO shopify_orderledger (loja_id, order_id, order_name, paid, cancelled, paid_lines, refunds, applied, updated_at)
  SELECT %(loja)s, %(oid)s, %(oname)s, true, false, %(lines)s, '{}', %(applied)s, now() WHERE EXISTS (SELECT 1 FROM d)
  ON CONFLICT (loja_id, order_id) DO NOTHING RETURNING id
)
SELECT (SELECT id FROM d), (SELECT id FROM l)
"""

STOCK_SQL = """
WITH want AS (
  SELECT * FROM unnest(%(skus)s::text[], %(qtys)s::int[]) AS w(sku, q)
), locked AS MATERIALIZED (
  SELECT p.id, p.sku FROM inventory_produto p WHERE p.loja_id = %(loja)s AND p.sku = ANY(%(skus)s::text[])
  ORDER BY p.id FOR UPDATE
), upd AS (
  UPDATE inventory_produto p SET estoque_atual = p.estoque_atual - want.q, updated_at = now()
  FROM locked JOIN want ON want.sku = locked.sku WHERE p.id = locked.id
  RETURNING p.id, p.sku, p.nome, p.estoque_atual + want.q AS antes, p.estoque_atual AS depois, p.estoque_minimo, want.q
), mov AS (
  INSERT INTO inventory_movimentacao (produto_id, loja_id, quantidade, estoque_anterior, estoque_atual, origem,
    referencia, motivo, created_at)
  SELECT id, %(loja)s, -q, antes, depois, 'shopify_pedido_pago', %(ref)s, '', now() FROM upd
)
SELECT id, sku, antes, depois, estoque_minimo, q FROM upd ORDER BY id
"""

EVENTS_SQL = """
WITH ev AS (
  INSERT INTO realtime_event (stream, type, loja_id, user_id, priority, data, created_at)
  SELECT 'estoque', t, %(loja)s, NULL, 'normal', d, now() FROM unnest(%(types)s::text[], %(datas)s::jsonb[]) AS e(t, d)
  RETURNING id, type, data, created_at
), done AS (
  UPDATE shopify_webhookdelivery SET status = 'processed', order_id = %(oid)s, unmapped_skus = %(unmapped)s,
    processed_at = now() WHERE id = %(did)s
)
SELECT id, type, data, created_at FROM ev ORDER BY id
"""


class Pool:
    def __init__(self, url: str, size: int):
        self.url, self.size = url, size
        self.free: asyncio.Queue | None = None

    async def get(self) -> psycopg.AsyncConnection:
        if self.free is None:
            self.free = asyncio.Queue()
            for _ in range(self.size):
                self.free.put_nowait(await psycopg.AsyncConnection.connect(self.url))
        return await self.free.get()

    def put(self, conn) -> None:
        self.free.put_nowait(conn)


pool = Pool(os.environ.get("FLOOR_DATABASE_URL", ""), int(os.environ.get("FLOOR_POOL", "8")))
_redis = None


def redis_client():
    global _redis
    if _redis is None:
        _redis = aioredis.from_url(os.environ.get("FLOOR_REDIS_URL", "redis://127.0.0.1:6379/9"))
    return _redis


async def respond(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
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
    if scope["path"] == "/healthz":
        return await respond(send, 200, {"status": "ok"})
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    h = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    shop = h.get("x-shopify-shop-domain", "")
    if not all(h.get(k) for k in ("x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-webhook-id")) or not shop:
        return await respond(send, 400, {"erro": "Cabeçalho obrigatório ausente."})
    entry = SHOPS.get(shop)
    if entry is None:
        return await respond(send, 404, {"erro": "Loja não cadastrada ou inativa."})
    loja_id, secret = entry
    expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, h["x-shopify-hmac-sha256"].encode()):
        return await respond(send, 401, {"erro": "Assinatura HMAC inválida."})
    order = json.loads(body)
    lines = [li for li in order.get("line_items") or [] if li.get("sku")]
    qty = {}
    for li in lines:
        q = li.get("current_quantity", li.get("quantity", 0))
        qty[str(li["sku"])] = qty.get(str(li["sku"]), 0) + int(q)
    skus = list(qty)
    paid_lines = {str(li["id"]): {"sku": li["sku"], "quantidade": int(li.get("current_quantity", li.get("quantity", 0)))}
                  for li in lines}
    conn = await pool.get()
    try:
        async with conn.transaction():
            cur = await conn.execute(DELIVERY_SQL, {
                "loja": loja_id, "shop": shop, "topic": h["x-shopify-topic"], "wid": h["x-shopify-webhook-id"],
                "eid": h.get("x-shopify-event-id"), "ver": h.get("x-shopify-api-version", ""),
                "trig": h.get("x-shopify-triggered-at", ""), "body": body, "oid": order["id"],
                "oname": order.get("name", ""), "lines": json.dumps(paid_lines),
                "applied": json.dumps({k: -v["quantidade"] for k, v in paid_lines.items()}),
            })
            delivery_id, ledger_id = await cur.fetchone()
            if delivery_id is None:
                status = "duplicate"
            else:
                status = "processed"
                changes = []
                if ledger_id is not None:
                    cur = await conn.execute(STOCK_SQL, {"loja": loja_id, "skus": skus, "qtys": [qty[s] for s in skus],
                                                          "ref": str(order["id"])})
                    changes = await cur.fetchall()
                types, datas = [], []
                for pid, sku, antes, depois, _minimo, q in changes:
                    types.append("estoque_atualizado")
                    datas.append(json.dumps({"loja_id": loja_id, "produto_id": pid, "sku": sku, "estoque_anterior": antes,
                                             "estoque_atual": depois, "quantidade": -q, "origem": "shopify_pedido_pago"}))
                found = {c[1] for c in changes}
                unmapped = [s for s in skus if s not in found]
                types.append("venda_shopify_processada")
                datas.append(json.dumps({"loja_id": loja_id, "order_id": order["id"], "order_name": order.get("name", ""),
                                         "itens": [{"sku": c[1], "produto_id": c[0], "quantidade": c[5],
                                                    "estoque_anterior": c[2], "estoque_atual": c[3]} for c in changes],
                                         "nao_mapeados": unmapped}))
                cur = await conn.execute(EVENTS_SQL, {"loja": loja_id, "types": types, "datas": datas,
                                                      "oid": order["id"], "unmapped": json.dumps(unmapped),
                                                      "did": delivery_id})
                events = await cur.fetchall()
    except psycopg.OperationalError:
        await conn.close()
        pool.put(await psycopg.AsyncConnection.connect(pool.url))
        return await respond(send, 503, {"erro": "Banco de dados indisponível."})
    pool.put(conn)
    if status == "processed":
        message = json.dumps([{"type": t, "data": d, "id": i, "timestamp": c.isoformat(), "priority": "normal"}
                              for i, t, d, c in events])
        try:
            await redis_client().publish(f"{PREFIX}.loja.{loja_id}", message)
        except Exception:
            pass
    return await respond(send, 200, {"status": status})
