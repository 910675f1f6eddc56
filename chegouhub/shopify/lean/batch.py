"""The lean route's batches: one transaction of set-based SQL for many first-sight `orders/paid`.

Deliveries that arrive while a transaction is running wait for the next one and share it (a batch,
`_Batcher`): a lone webhook is applied at once, and under load one round trip, one set of row
locks, one event-log lock per depósito and one commit serve many webhooks. A batch is one transaction:

  1. share-lock the batch's lojas in id order, and resolve its (loja, SKU) pairs (the loja's
     mapeamento first, then equal sku in its depósito): one round trip, or none when the process remembers every
     pair's resolution (it is then checked in the round trip of step 2, see `_resolved`);
  2. one statement: the inbox rows (raw bodies, `ON CONFLICT DO NOTHING`), the orders' ledger rows
     (`ON CONFLICT DO NOTHING`), the touched products locked in primary-key order and changed once
     by the batch's total, a movement per delivery and product chained in delivery order, and the
     products' active alerts;
  3. the depósitos' event-log locks, the events (with each one's previous id), COMMIT: pipelined.

What each delivery owes the stock is decided by `ledger.settle` (the same call as the Django
path's) and whether an alert changes by `alert_transition`: this module only executes. If any
delivery of a batch is not the common case (a repeat, an order the ledger already knows, a stock
alert to open or resolve), the batch is rolled back and its deliveries retried, and what is still
not the common case is answered as None: the route hands it to the Django path.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout
from django.conf import settings

from chegouhub.common.logging import webhook_log
from chegouhub.inventory.alerts import alert_transition
from chegouhub.inventory.models import Origem, Produto
from chegouhub.inventory.services import StockChange, log_stock_changes, stock_event
from chegouhub.realtime import events as event_log

from .. import ledger, metrics
from ..models import DeliveryStatus
from ..services import log_processed, sale_event
from ..verification import VerifiedWebhook
from . import pool as lean_pool

UNAVAILABLE = {"erro": "Banco de dados indisponível; a Shopify vai reenviar."}

RESOLVE_SQL = """
SELECT s.loja, s.sku, COALESCE(m.produto_id, p.id)
FROM unnest(%(lojas)b::bigint[], %(skus)b::text[]) AS s(loja, sku)
JOIN stores_loja l ON l.id = s.loja
LEFT JOIN inventory_mapeamento m ON m.loja_id = s.loja AND m.shopify_sku = s.sku
LEFT JOIN inventory_produto p ON p.deposito_id = l.deposito_id AND p.sku = s.sku
"""

# One statement for a whole batch of deliveries (n numbers them in arrival order): their inbox rows
# and ledger rows, the touched products locked in primary-key order and changed once each by the
# batch's total, and one movement per (delivery, product) whose before/after chain through the
# batch in delivery order. Products are locked only if every delivery and every ledger row is new:
# otherwise the caller rolls the batch back and takes each delivery on its own. Unique keys are
# inserted in key order (as products are locked in key order), so two batches holding the same
# retried delivery wait for each other instead of deadlocking.
APPLY_SQL = """
WITH w AS (
  SELECT * FROM unnest(%(n)b::int[], %(lojas)b::bigint[], %(shops)b::text[], %(wids)b::text[], %(eids)b::text[],
    %(vers)b::text[], %(trigs)b::text[], %(bodies)b::bytea[], %(oids)b::bigint[], %(unmapped)b::jsonb[],
    %(invalid)b::jsonb[], %(onames)b::text[], %(cancelled)b::bool[], %(paid_lines)b::jsonb[], %(refunds)b::jsonb[],
    %(applied)b::jsonb[])
    AS w(n, loja, shop, wid, eid, ver, trig, body, oid, unmapped, invalid, oname, cancelled, paid_lines, refunds,
      applied)
), d AS (
  INSERT INTO shopify_webhookdelivery (loja_id, shop_domain, topic, webhook_id, event_id, api_version, triggered_at,
    body, status, attempts, last_error, order_id, unmapped_skus, invalid_lines, created_at, processed_at)
  SELECT loja, shop, %(topic)s, wid, eid, ver, trig, body, %(status)s, 1, '', oid, unmapped, invalid, %(now)s, %(now)s
  FROM w ORDER BY wid
  ON CONFLICT DO NOTHING RETURNING webhook_id
), l AS (
  INSERT INTO shopify_orderledger (loja_id, order_id, order_name, paid, cancelled, paid_lines, refunds, applied,
    updated_at)
  SELECT w.loja, w.oid, w.oname, true, w.cancelled, w.paid_lines, w.refunds, w.applied, %(now)s
  FROM w JOIN d ON d.webhook_id = w.wid ORDER BY w.loja, w.oid
  ON CONFLICT (loja_id, order_id) DO NOTHING RETURNING id
), val AS (
  -- the sale values ledger.settle decided (the order's, and refunds embedded in it), with the ledger rows
  INSERT INTO sales_valorvenda (loja_id, order_id, tipo, referencia, valor, moeda, valor_apresentado,
    moeda_apresentada, unidades, ocorrido_em)
  SELECT w.loja, w.oid, v.tipo, v.ref, v.valor, v.moeda, v.vap, v.map, v.un, v.em
  FROM unnest(%(vn)b::int[], %(vtipo)b::text[], %(vref)b::text[], %(vvalor)b::numeric[], %(vmoeda)b::text[],
    %(vvap)b::numeric[], %(vmap)b::text[], %(vun)b::bigint[], %(vem)b::timestamptz[])
    AS v(n, tipo, ref, valor, moeda, vap, map, un, em)
  JOIN w USING (n)
  WHERE (SELECT count(*) FROM l) = %(count)s
  ON CONFLICT DO NOTHING
), delta AS (
  SELECT x.*, w.loja FROM unnest(%(dn)b::int[], %(dpids)b::bigint[], %(deltas)b::bigint[]) AS x(n, produto_id, q)
  JOIN w USING (n)
), total AS (
  -- one row per produto: lojas of one depósito share it, and UPDATE ... FROM applies a single
  -- matching row (two lojas' rows of one produto lost one of the two deltas)
  SELECT produto_id, array_agg(DISTINCT loja) AS lojas, sum(q)::bigint AS q FROM delta GROUP BY produto_id
), locked AS MATERIALIZED (
  SELECT p.id FROM inventory_produto p JOIN total ON total.produto_id = p.id
  WHERE (SELECT count(*) FROM l) = %(count)s
    AND NOT EXISTS (SELECT 1 FROM stores_loja sl WHERE sl.id = ANY(total.lojas) AND sl.deposito_id <> p.deposito_id)
  ORDER BY p.id FOR UPDATE OF p
), upd AS (
  UPDATE inventory_produto p SET estoque_atual = p.estoque_atual + total.q, updated_at = %(now)s
  FROM locked JOIN total ON total.produto_id = locked.id WHERE p.id = locked.id
  RETURNING p.id, p.sku, p.nome, p.estoque_minimo, p.estoque_atual - total.q AS antes
), steps AS (
  SELECT delta.n, delta.loja, delta.produto_id, delta.q, upd.sku, upd.nome, upd.estoque_minimo,
    upd.antes + COALESCE(sum(delta.q) OVER (PARTITION BY delta.produto_id ORDER BY delta.n
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::bigint AS antes
  FROM delta JOIN upd ON upd.id = delta.produto_id
), mov AS (
  INSERT INTO inventory_movimentacao (produto_id, loja_id, quantidade, estoque_anterior, estoque_atual, origem,
    referencia, motivo, created_at)
  SELECT s.produto_id, s.loja, s.q, s.antes, s.antes + s.q, %(origem)s, w.oid::text, '', %(now)s
  FROM steps s JOIN w USING (n) ORDER BY s.n, s.produto_id
)
SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM l), s.n, s.produto_id, s.sku, s.nome, s.estoque_minimo,
  s.antes, s.q,
  (SELECT array_agg(a.tipo || ':' || a.id) FROM inventory_alerta a WHERE a.produto_id = s.produto_id AND a.status = 'ativo')
FROM (SELECT 1) one LEFT JOIN steps s ON true
ORDER BY s.n, s.produto_id
"""

# The events of every depósito in the batch, after the depósitos' event-log locks: each one's
# previous id (read before the insert, in the statement's snapshot) and the new ids in insertion order.
EVENTS_SQL = """
WITH prev AS (
  SELECT l.dep, (SELECT COALESCE(max(id), 0) FROM realtime_event WHERE stream = 'estoque' AND deposito_id = l.dep) AS m
  FROM unnest(%(depositos)b::bigint[]) AS l(dep)
), ev AS (
  INSERT INTO realtime_event (stream, type, loja_id, deposito_id, user_id, priority, data, created_at)
  SELECT 'estoque', e.t, e.loja, e.dep, NULL, e.p, e.d, %(now)s
  FROM unnest(%(elojas)b::bigint[], %(edeps)b::bigint[], %(types)b::text[], %(prios)b::text[], %(datas)b::jsonb[])
    WITH ORDINALITY AS e(loja, dep, t, p, d, n)
  ORDER BY e.n
  RETURNING id
)
SELECT (SELECT array_agg(dep ORDER BY dep) FROM prev), (SELECT array_agg(m ORDER BY dep) FROM prev),
  (SELECT array_agg(id ORDER BY id) FROM ev)
"""


class _StaleResolution(Exception):
    """A remembered SKU resolution no longer holds: the batch is rolled back and planned afresh."""


# Each (loja, SKU) pair's last resolution in this process (a produto id, or None: unmapped). A batch
# whose pairs are all here is planned from it and its resolving query is sent with the apply
# statement in one round trip; the query's rows, read in the same transaction before the apply
# (as without it), must equal what was remembered, or the batch is rolled back and planned from
# them. So a mapping or product changed elsewhere costs one retried batch, never a wrong product.
_resolved: dict[tuple[int, str], int | None] = {}
_RESOLVED_MAX = 100_000
_UNKNOWN = object()


def _remember(resolution: dict[tuple[int, str], int | None]) -> None:
    if len(_resolved) + len(resolution) > _RESOLVED_MAX:
        _resolved.clear()  # bounded; refilled by the next batches
    _resolved.update(resolution)


class _Fallback(Exception):
    """Not the lean case after all: the transaction is rolled back and the Django code takes it.

    `alerting` names the batch's deliveries (by position) that touch a stock alert, when that is
    what stopped it: they go to the Django code, and the rest of the batch is tried again together.
    """

    def __init__(self, alerting: frozenset[int] = frozenset()):
        super().__init__()
        self.alerting = alerting



@dataclass(frozen=True)
class LeanCase:
    """A verified first-sight `orders/paid` of a cached active loja, and its facts (ledger.read_facts)."""

    verified: VerifiedWebhook
    facts: ledger.OrderFacts

    @property
    def loja_id(self) -> int:
        return self.verified.loja_id


_batchers: dict = {}


def batcher() -> _Batcher:
    """This event loop's batcher."""
    return lean_pool.this_loops(_batchers, lambda loop: _Batcher(loop))[0]


def forget_batcher() -> None:
    lean_pool.forget_loop(_batchers, asyncio.get_running_loop())




class _Batcher:
    """Gathers this event loop's lean deliveries into batches: one transaction for many webhooks.

    At most `WEBHOOK_BATCH_CONCURRENCY` batches run at once per process; deliveries that arrive
    meanwhile wait for the next one (up to `WEBHOOK_BATCH_MAX` a batch). An idle server therefore
    answers a lone webhook at once, in a batch of one, and a busy one shares each round trip, row
    lock, event-log lock and commit among many: the per-transaction cost that bounds a flash sale.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.pending: list[tuple[dict, bytes, float, asyncio.Future]] = []
        self.running = 0  # drainers whose loop has not ended (counted in the coroutine, not by callbacks)
        self.drainers: set[asyncio.Task] = set()  # referenced, so a running drainer is never collected
        # After a batch gives way its deliveries are retried one by one: no more at once than the
        # pool has connections, so they do not queue into the pool's timeout (503).
        self.singles = asyncio.Semaphore(settings.WEBHOOK_DB_POOL_SIZE)

    def submit(self, case: dict, body: bytes, started: float) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending.append((case, body, started, future))
        if self.running < max(1, settings.WEBHOOK_BATCH_CONCURRENCY):
            self.running += 1
            task = self.loop.create_task(self._drain())
            self.drainers.add(task)
            task.add_done_callback(self.drainers.discard)
        return future

    async def _drain(self) -> None:
        try:
            while self.pending:
                size = max(1, settings.WEBHOOK_BATCH_MAX)
                batch, self.pending = self.pending[:size], self.pending[size:]
                await _run_batch(batch, self.singles)
        except BaseException:
            # Cancelled (the server is stopping): what waits is not left hanging.
            for *_, future in self.pending:
                future.cancel()
            self.pending = []
            raise
        finally:
            self.running -= 1



async def _run_batch(batch: list[tuple[dict, bytes, float, asyncio.Future]], singles: asyncio.Semaphore) -> None:
    """Answer every future of the batch: (status, body), or None for "take the Django path"."""
    results: list = [None] * len(batch)
    try:
        lean = _distinct(batch)
        items = [batch[i][:3] for i in lean]

        def answer_committed(answers: list) -> None:
            # Answered as soon as the batch commits: its publishing and logging do not hold the
            # responses back (they still run before this process's next batch, so in order).
            for i, answer in zip(lean, answers):
                if not batch[i][3].done():
                    batch[i][3].set_result(answer)

        try:
            answers = await _process(items, on_commit=answer_committed)
        except _Fallback as stop:
            # Something in the batch is not the common case; it was rolled back whole. Deliveries
            # that touch a stock alert go to the Django code (which opens, resolves and notifies),
            # and the others are tried again together once. Otherwise (a repeat, an order the
            # ledger knows: which one is not known) each is tried again on its own. A batch of one
            # that gives way goes to the Django code.
            answers = [None] * len(items)
            if len(items) > 1:
                rest = [k for k in range(len(items)) if k not in stop.alerting]
                if stop.alerting and rest:
                    again = await _process_or_each([items[k] for k in rest], singles)
                else:
                    again = await asyncio.gather(*(_process_one(items[k], singles) for k in rest))
                for k, answer in zip(rest, again):
                    answers[k] = answer
        for i, answer in zip(lean, answers):
            results[i] = answer
    except Exception:
        # Unexpected: what was not answered goes to the Django code, which is idempotent (a
        # delivery this batch did commit is answered there as a duplicate), never a 500.
        webhook_log.exception("lean webhook batch failed; its deliveries take the general path")
        results = [None] * len(batch)
    except BaseException:
        for *_, future in batch:
            future.cancel()
        raise
    for (*_, future), answer in zip(batch, results):
        if not future.done():
            future.set_result(answer)


async def _process_one(item: tuple[dict, bytes, float], singles: asyncio.Semaphore) -> tuple[int, dict] | None:
    async with singles:
        try:
            return (await _process([item]))[0]
        except _Fallback:
            return None


async def _process_or_each(items: list[tuple[dict, bytes, float]],
                           singles: asyncio.Semaphore) -> list[tuple[int, dict] | None]:
    """The items as one batch; if that gives way too, each on its own."""
    try:
        return await _process(items)
    except _Fallback:
        return list(await asyncio.gather(*(_process_one(item, singles) for item in items)))


def _distinct(batch: list) -> list[int]:
    """The positions of the batch's deliveries that share no webhook id, event id or order with an
    earlier one. The others go to the Django path once the batch has committed: two deliveries of
    one order cannot both be its first, and that path answers them as the contract says.
    """
    seen: set = set()
    positions = []
    for i, (case, *_) in enumerate(batch):
        v = case.verified
        keys = {("w", v.webhook_id), ("o", v.loja_id, case.facts.order_id)}
        if v.event_id:
            keys.add(("e", v.shop_domain, v.topic, v.event_id))
        if not keys & seen:
            positions.append(i)
        seen |= keys
    return positions


def _plan(case: LeanCase, produto_by_sku: dict[str, int]) -> ledger.Settlement:
    """ledger.settle on a ledger seen for the first time, as the Django path would settle it."""
    return ledger.settle(ledger.LedgerState(), case.facts, produto_by_sku)


async def _process(items: list[tuple[dict, bytes, float]], on_commit=None) -> list[tuple[int, dict]]:
    """One transaction for the batch; raises _Fallback (rolled back) when any of it is not the lean case.

    `on_commit(answers)` is called once the batch has committed, before its events are published.
    """
    try:
        return await _transact(items, on_commit, remembered=True)
    except _StaleResolution:
        return await _transact(items, on_commit, remembered=False)


async def _read_resolution(cursor) -> dict[tuple[int, str], int | None]:
    """RESOLVE_SQL's rows: (loja, sku) -> produto id, or None for an unmapped SKU."""
    return {(loja, sku): pid for loja, sku, pid in await cursor.fetchall()}


def _by_loja(resolution: dict[tuple[int, str], int | None]) -> dict[int, dict[str, int]]:
    produto_by_sku: dict[int, dict[str, int]] = {}
    for (loja, sku), pid in resolution.items():
        if pid is not None:
            produto_by_sku.setdefault(loja, {})[sku] = pid
    return produto_by_sku


async def _transact(items: list[tuple[dict, bytes, float]], on_commit, remembered: bool) -> list[tuple[int, dict]]:
    now = datetime.now(UTC)
    pairs = sorted({(case.loja_id, sku) for case, _, _ in items
                    for sku in ledger.skus_to_resolve(ledger.LedgerState(), case.facts)})
    known = {}
    if remembered:
        for pair in pairs:
            if (pid := _resolved.get(pair, _UNKNOWN)) is not _UNKNOWN:
                known[pair] = pid
    try:
        pool = await lean_pool.pool()
        async with pool.connection() as conn:
            async with conn.pipeline(), conn.transaction():
                # The lojas' rows first, in id order, as the foreign keys of the rows below would
                # (in insertion order): so a transaction locking several lojas (webhook states)
                # and a batch never wait for each other in a cycle.
                lojas_cur = await conn.execute(
                    "SELECT id, deposito_id FROM stores_loja WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
                    [sorted({case.loja_id for case, _, _ in items})])
                resolving = None
                if pairs:
                    resolving = await conn.execute(RESOLVE_SQL, {"lojas": [p[0] for p in pairs],
                                                                 "skus": [p[1] for p in pairs]})
                if len(known) < len(pairs):  # a pair not seen yet: wait for the resolution
                    known = await _read_resolution(resolving)
                    _remember(known)
                    resolving = None
                produto_by_sku = _by_loja(known)
                plans = [_plan(case, produto_by_sku.get(case.loja_id, {})) for case, _, _ in items]
                dn, dpids, deltas = [], [], []
                for n, plan in enumerate(plans):
                    dn += [n] * len(plan.deltas)
                    dpids += list(plan.deltas)
                    deltas += list(plan.deltas.values())
                verified = [c.verified for c, _, _ in items]
                states = [p.state for p in plans]
                cur = await conn.execute(APPLY_SQL, {
                    "n": list(range(len(items))), "lojas": [v.loja_id for v in verified],
                    "shops": [v.shop_domain for v in verified], "wids": [v.webhook_id for v in verified],
                    "eids": [v.event_id for v in verified], "vers": [v.api_version for v in verified],
                    "trigs": [v.triggered_at for v in verified], "bodies": [b for _, b, _ in items],
                    "oids": [c.facts.order_id for c, _, _ in items], "unmapped": [Jsonb(p.unmapped) for p in plans],
                    "invalid": [Jsonb(p.invalid) for p in plans],
                    "onames": [st.order_name for st in states], "cancelled": [st.cancelled for st in states],
                    "paid_lines": [Jsonb(st.paid_lines) for st in states],
                    "refunds": [Jsonb(st.refunds) for st in states],
                    "applied": [Jsonb(st.applied) for st in states],
                    **_value_rows(plans, now),
                    "dn": dn, "dpids": dpids, "deltas": deltas, "count": len(items), "topic": "orders/paid",
                    "status": DeliveryStatus.PROCESSED.value, "now": now, "origem": Origem.PEDIDO_PAGO.value,
                })
                if resolving is not None:  # planned from memory: check it (same round trip as the apply)
                    try:
                        fresh = await _read_resolution(resolving)
                    except BaseException:
                        # The round trip failed before the memory could be checked (the apply
                        # waited out a lock, say): the retries and later batches resolve afresh.
                        for pair in pairs:
                            _resolved.pop(pair, None)
                        raise
                    if fresh != known:
                        _remember(fresh)
                        metrics.WEBHOOK_STALE_RESOLUTIONS.inc()
                        raise _StaleResolution
                rows = await cur.fetchall()
                deposito_of = dict(await lojas_cur.fetchall())  # read before the apply (its results are in)
                if rows[0][0] != len(items) or rows[0][1] != len(items):
                    raise _Fallback  # a repeat, or an order the ledger already knows: the general path
                changes: list[list[StockChange]] = [[] for _ in items]
                alerting: set[int] = set()
                for _d, _l, n, pid, sku, nome, minimo, antes, q, alerts in rows:
                    if n is None:
                        continue
                    produto = Produto(pk=pid, loja_id=items[n][0].loja_id, sku=sku, nome=nome,
                                      estoque_minimo=minimo)
                    changes[n].append(StockChange(produto=produto, quantidade=q, estoque_anterior=antes,
                                                  estoque_atual=antes + q, movimentacao=None))
                    active = frozenset(a.split(":", 1)[0] for a in alerts or ())
                    if alert_transition(before=antes, after=antes + q, minimo=minimo, active=active):
                        alerting.add(n)
                if [len(c) for c in changes] != [len(p.deltas) for p in plans]:
                    raise _Fallback  # a produto vanished between resolving and locking
                if alerting:
                    # A threshold crossed or an alert to resolve: the ORM path opens, resolves, notifies.
                    raise _Fallback(frozenset(alerting))
                new_events = []
                for (case, _, _), plan, cs in zip(items, plans, changes):
                    dep = deposito_of[case.loja_id]
                    new_events += [stock_event(case.loja_id, c, Origem.PEDIDO_PAGO, dep) for c in cs]
                    new_events.append(sale_event(case.loja_id, case.facts, plan.state.order_name, cs, plan, dep))
                for e in new_events:
                    event_log.check_schema(e)
                # The lojas' event-log locks are taken last, in one order, and held only through the
                # insert and the commit (events.py, "Ordering and gaps"). Their results are read only
                # after the block: the locks, the insert and the COMMIT go to PostgreSQL in one round
                # trip, so no lock is held while this process's event loop is busy elsewhere.
                depositos = sorted({e.deposito_id for e in new_events})
                for deposito_id in depositos:
                    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", event_log.stock_lock_key(deposito_id))
                events_cur = await conn.execute(EVENTS_SQL, {
                    "depositos": depositos, "now": now, "elojas": [e.loja_id for e in new_events],
                    "edeps": [e.deposito_id for e in new_events],
                    "types": [e.type for e in new_events], "prios": [e.priority for e in new_events],
                    "datas": [Jsonb(e.data) for e in new_events],
                })
            prev_depositos, prevs, ids = await events_cur.fetchone()  # committed
    except (_Fallback, _StaleResolution):
        raise
    except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable) as exc:
        # Rolled back: one by one (each holds far fewer locks), and what still waits too long
        # goes to the Django path.
        raise _Fallback from exc
    except (psycopg.OperationalError, PoolTimeout) as exc:
        webhook_log.error("database unavailable; asking Shopify to retry", extra={"error_type": type(exc).__name__})
        return [(503, UNAVAILABLE)] * len(items)
    except Exception as exc:  # anything else (a payload its arithmetic cannot read): the general path
        # decides and records it (stored as failed, answered "accepted"), never a 500.
        webhook_log.warning("lean webhook path gave way to the general path",
                            extra={"error_type": type(exc).__name__})
        raise _Fallback from exc
    answers = [(200, {"status": "processed"})] * len(items)
    if on_commit is not None:
        on_commit(answers)
    answered = time.perf_counter()
    last = dict(zip(prev_depositos, prevs))
    messages = []
    for new, event_id in zip(new_events, ids):
        payload = {"type": new.type, "data": new.data, "id": event_id, "timestamp": now.isoformat(),
                   "priority": new.priority}
        group = event_log.deposito_group(new.deposito_id)
        messages.append(event_log.GroupMessage(group, payload, last[new.deposito_id]))
        last[new.deposito_id] = event_id
    await event_log.apublish(messages)
    for (case, _, started), plan, cs in zip(items, plans, changes):
        _log_processed(case, cs, plan, answered - started)
    return answers


def _value_rows(plans: list[ledger.Settlement], now: datetime) -> dict[str, list]:
    """The settlements' sale values as APPLY_SQL's arrays (what record_sale_values writes on the ORM path)."""
    rows: dict[str, list] = {k: [] for k in ("vn", "vtipo", "vref", "vvalor", "vmoeda", "vvap", "vmap", "vun",
                                              "vem")}
    for n, plan in enumerate(plans):
        for v in plan.values:
            shop, presented = (v.value.shop, v.value.presented) if v.value else (None, None)
            for key, item in (("vn", n), ("vtipo", v.tipo), ("vref", v.referencia),
                              ("vvalor", shop.amount if shop else None), ("vmoeda", shop.currency if shop else ""),
                              ("vvap", presented.amount if presented else None),
                              ("vmap", presented.currency if presented else ""), ("vun", v.unidades),
                              ("vem", (v.value.at if v.value else None) or now)):
                rows[key].append(item)
    return rows


def _log_processed(case: LeanCase, changes: list[StockChange], plan: ledger.Settlement, latency: float) -> None:
    loja_id, order_id, topic = case.loja_id, case.facts.order_id, case.verified.topic
    log_stock_changes(loja_id, changes, Origem.PEDIDO_PAGO, str(order_id))
    log_processed(topic=topic, loja_id=loja_id, status=DeliveryStatus.PROCESSED, order_id=order_id,
                  unmapped=len(plan.unmapped), invalid=len(plan.invalid), path="lean")
    metrics.WEBHOOK_LATENCY.observe(latency)  # until the answer, as the Django view measures it
    metrics.WEBHOOKS.labels(topic=topic, outcome="processed").inc()  # as the Django view counts
