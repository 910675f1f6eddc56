"""Telling Shopify what is left (CONTRACT 10): read the depósitos' stock streams, push quantities.

Three steps, each its own short transaction, run by `push_stock` (pusher.py) in a loop:

1. `ingest_all`: each depósito's stock events after its cursor become `PushPendente` rows (one per
   variant link of a syncing loja; a burst of sales of one SKU is one row), and the cursor moves,
   in one transaction. A sale in a loja also takes its quantity off what that loja's Shopify is
   expected to show (Shopify lowered its own `available` when it sold): so the push that sale
   would cause there is the value Shopify already has, and costs nothing.
2. `claim_pushes`: due rows are leased (`FOR UPDATE SKIP LOCKED` on PostgreSQL), at most 250 a
   loja, with the quantity each variant must show now: `max(estoque_atual - estoque_reserva, 0)`.
3. `record_results`: what Shopify confirmed is written back (the variant's quantity, an
   `EnvioEstoque` row, an `estoque_sincronizado_shopify` event); a stale quantity is replaced
   by Shopify's and pushed again at once; an error backs off.

The HTTP part (pusher.py) sits between 2 and 3 and touches no database.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Case, F, Max, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from chegouhub.catalog.models import VarianteShopify
from chegouhub.inventory.models import Origem, Produto
from chegouhub.realtime.events import EVENT_SCHEMAS, NewEvent, record_events
from chegouhub.realtime.models import Event, Stream
from chegouhub.shopify.tokens import LojaCredential
from chegouhub.stores.models import Loja

from .models import CursorDeposito, Divergencia, EnvioEstoque, PushPendente

EVENT_SCHEMAS.setdefault("estoque_sincronizado_shopify", (Stream.ESTOQUE, frozenset(
    {"loja_id", "deposito_id", "produto_id", "inventory_item_id", "quantidade", "atraso_ms"})))

INGEST_BATCH = 5000
MAX_PER_CALL = 250  # inventorySetQuantities' limit
LEASE_SECONDS = 60
# A stale item is pushed again after a short pause (the store's own sale, still on its way as a
# webhook, then adjusts what it is expected to show), and read from Shopify only once it has stayed
# stale this long: a read made while a sale's webhook is in flight would count that sale twice.
STALE_RETRY_SECONDS = 0.5
STALE_GRACE_SECONDS = 3.0
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
# The stock movements whose units Shopify itself moved at the loja where they happened: a sale it
# took off its `available`. (A cancellation or refund restocks there only if the merchant chose to:
# its quantity is adjusted too, but no longer trusted to skip a push.)
SHOPIFY_MOVED = {Origem.PEDIDO_PAGO: True, Origem.PEDIDO_CANCELADO: False, Origem.REEMBOLSO: False}


def syncing_lojas():
    return Loja.objects.filter(sincronizar_estoque=True, ativo=True).exclude(access_token="")


# --- 1. the stock streams into pending rows ------------------------------------------------------


def _stream_end(deposito_id: int, after: int = 0) -> int | None:
    """The newest id of the depósito's stock stream past `after` (None: nothing past it)."""
    return (Event.objects.filter(stream=Stream.ESTOQUE, deposito_id=deposito_id, id__gt=after)
            .aggregate(m=Max("id"))["m"])


def ensure_cursor(deposito_id: int) -> CursorDeposito:
    """The depósito's cursor, created at its stream's end (what came before is not pushed: the
    loja turning sync on queues every variant instead, `queue_loja`)."""
    cursor = CursorDeposito.objects.filter(deposito_id=deposito_id).first()
    if cursor is None:  # the stream's end is read only to create it, not on every round's lookup
        cursor, _ = CursorDeposito.objects.get_or_create(
            deposito_id=deposito_id, defaults={"ultimo_evento": _stream_end(deposito_id) or 0})
    return cursor


def queue_variants(variantes: list[VarianteShopify], *, evento_id: int = 0) -> int:
    """Queue these variant links for a push (a loja turning sync on, an import, a reconciliation)."""
    now = timezone.now()
    rows = [PushPendente(variante_id=v.pk, loja_id=v.loja_id, desde=now, evento_id=evento_id, proxima_em=now)
            for v in variantes]
    PushPendente.objects.bulk_create(rows, update_conflicts=True, unique_fields=["variante"],
                                     update_fields=["evento_id", "proxima_em"])
    return len(rows)


def queue_loja(loja: Loja) -> int:
    """Every variant link of the loja, pushed as soon as possible (it turned sync on, changed its
    reserve or depósito). The first syncing loja of a depósito starts its cursor at the stream's
    end: what happened while nobody synced is in the full push, not in a backlog to read."""
    cursor = ensure_cursor(loja.deposito_id)
    if not syncing_lojas().filter(deposito_id=loja.deposito_id).exclude(pk=loja.pk).exists():
        CursorDeposito.objects.filter(pk=cursor.pk).update(ultimo_evento=_stream_end(loja.deposito_id) or 0)
    return queue_variants(list(VarianteShopify.objects.filter(loja=loja)))


def ingest_all() -> int:
    """Every syncing depósito's new stock events into pending rows, and the links whose Shopify
    quantity was never confirmed (a catalog import just made them); the number of rows touched."""
    total = 0
    for deposito_id in set(syncing_lojas().values_list("deposito_id", flat=True)):
        total += ingest_deposito(deposito_id)
    return total + queue_unconfirmed()


def queue_unconfirmed() -> int:
    """Links of syncing lojas never pushed since they were read (an import): pushed once, with
    Shopify's read quantity as the compare-and-set base."""
    links = list(VarianteShopify.objects.filter(loja__in=syncing_lojas(), shopify_confirmado=False)
                 .exclude(pk__in=PushPendente.objects.values("variante_id")).only("id", "loja_id")[:INGEST_BATCH])
    if links:
        queue_variants(links)
    return len(links)


def ingest_deposito(deposito_id: int, limit: int = INGEST_BATCH) -> int:
    with transaction.atomic():
        cursor = _lock_cursor(deposito_id)
        if cursor is None:  # another pusher is reading this depósito right now
            return 0
        # The stream's end first, then its stock events up to that end, each statement its own
        # snapshot: ids of one stream become visible in id order, so every event up to `end` is
        # visible to the second read, and one committed in between is past `end`, read next time.
        # (Reading the events first and the end second would skip the stock events committed
        # between the two statements.)
        end = _stream_end(deposito_id, after=cursor.ultimo_evento)
        if not end:
            return 0
        events = list(Event.objects.filter(stream=Stream.ESTOQUE, deposito_id=deposito_id,
                                           id__gt=cursor.ultimo_evento, id__lte=end, type="estoque_atualizado")
                      .order_by("id").values("id", "created_at", "data")[:limit])
        if events:
            _expect_shopify_moves(events)
            _queue_from_events(deposito_id, events)
        # Past the stream's other events too (sales, alerts, confirmations) up to `end`.
        cursor.ultimo_evento = events[-1]["id"] if len(events) == limit else end
        cursor.ritmo = change_rate(cursor, timezone.now()) + len(events) / RATE_SECONDS
        cursor.save(update_fields=["ultimo_evento", "ritmo", "updated_at"])
    return len(events)


def _lock_cursor(deposito_id: int) -> CursorDeposito | None:
    ensure_cursor(deposito_id)
    qs = CursorDeposito.objects.filter(deposito_id=deposito_id)
    return qs.select_for_update(skip_locked=True).first()


def _expect_shopify_moves(events: list[dict]) -> None:
    """Take a loja's own Shopify-side moves off what its Shopify is expected to show."""
    moved: dict[tuple[int, int], int] = {}
    trusted: dict[tuple[int, int], bool] = {}
    for e in events:
        data = e["data"]
        origem, loja_id = data.get("origem"), data.get("loja_id")
        if loja_id is None or origem not in SHOPIFY_MOVED:
            continue
        key = (loja_id, data["produto_id"])
        moved[key] = moved.get(key, 0) + int(data["quantidade"])
        trusted[key] = trusted.get(key, True) and SHOPIFY_MOVED[origem]
    if not moved:
        return
    # Every link of those lojas and produtos in one read, the changes in one statement (PostgreSQL).
    found: dict[tuple[int, int], list[tuple[int, bool]]] = {}
    for pk, loja_id, produto_id, confirmado in VarianteShopify.objects.filter(
            loja_id__in={k[0] for k in moved}, produto_id__in={k[1] for k in moved},
            shopify_disponivel__isnull=False).values_list("pk", "loja_id", "produto_id", "shopify_confirmado"):
        if (loja_id, produto_id) in moved:
            found.setdefault((loja_id, produto_id), []).append((pk, confirmado))
    changes: list[tuple[int, int, bool]] = []  # variante id, delta, still confirmed
    for key, links in found.items():
        # Two variants of one produto in one loja: which one sold is not in the event; push both.
        keep = trusted[key] and len(links) == 1
        # Only a quantity Shopify confirmed to a push moves with the loja's sales: one read from
        # Shopify (an import, a stale answer) may already count a sale whose webhook comes after
        # the read, and taking it off again would count it twice.
        changes += [(pk, moved[key], keep) for pk, confirmado in links if confirmado]
    if not changes:
        return
    changes.sort()
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {VarianteShopify._meta.db_table} v SET shopify_disponivel = v.shopify_disponivel + c.delta, "
            "shopify_confirmado = v.shopify_confirmado AND c.keep "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::boolean[]) AS c(id, delta, keep) WHERE v.id = c.id",
            [[c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes]])


def _queue_from_events(deposito_id: int, events: list[dict]) -> None:
    newest: dict[int, tuple[int, object]] = {}  # produto -> (newest event id, oldest change time)
    for e in events:
        pid = e["data"]["produto_id"]
        first = newest.get(pid, (0, e["created_at"]))[1]
        newest[pid] = (e["id"], min(first, e["created_at"]))
    links = VarianteShopify.objects.filter(produto_id__in=newest, loja__in=syncing_lojas().filter(
        deposito_id=deposito_id)).only("id", "loja_id", "produto_id")
    now = timezone.now()
    rows = [PushPendente(variante_id=v.pk, loja_id=v.loja_id, desde=newest[v.produto_id][1],
                         evento_id=newest[v.produto_id][0], proxima_em=now) for v in links]
    # A row already waiting keeps its `desde` (the delay counts from the oldest change) and backoff.
    PushPendente.objects.bulk_create(rows, update_conflicts=True, unique_fields=["variante"],
                                     update_fields=["evento_id"])


# --- pacing: how fast a depósito sells ----------------------------------------------------------

# The time constant of a depósito's rate of stock changes: an exponentially decaying count, so a
# rush is seen within a second or two and its end as fast. Kept on the cursor, it is the same for
# every pusher process whichever of them read the events.
RATE_SECONDS = 1.0


def change_rate(cursor: CursorDeposito, now) -> float:
    """The depósito's stock changes per second now (`cursor.ritmo` decayed since it was written)."""
    if not cursor.ritmo:
        return 0.0
    age = max((now - cursor.updated_at).total_seconds(), 0.0)
    return cursor.ritmo * math.exp(-age / RATE_SECONDS)


def rush_intervals(loja_ids: set[int], *, calls_per_change: float, longest: float) -> dict[int, float]:
    """The lojas of `loja_ids` whose depósito is in a rush, each with its paced interval.

    A depósito of n syncing lojas selling r changes a second keeps its Shopify calls within
    `calls_per_change` of its changes when each loja is called once per n / (calls_per_change × r)
    seconds. It is in a rush when that interval is at most `longest`: it sells so fast that one
    call per store per interval carries many changes, and an extra call (a sold-out push) would be
    paid for by nobody. Slower, the budget would cost more delay than it saves and does not apply.
    """
    if not loja_ids or calls_per_change <= 0:
        return {}
    now = timezone.now()
    # The syncing lojas of those lojas' depósitos, in one read: how many each has, and where each is.
    lojas = dict(syncing_lojas().filter(deposito__in=Loja.objects.filter(pk__in=loja_ids).values("deposito_id"))
                 .values_list("pk", "deposito_id"))
    syncing = Counter(lojas.values())
    rates = {c.deposito_id: change_rate(c, now) for c in CursorDeposito.objects.filter(deposito_id__in=syncing)}
    paced = {}
    for loja_id in loja_ids & lojas.keys():
        rate = rates.get(lojas[loja_id], 0.0)
        if rate > 0:
            interval = syncing[lojas[loja_id]] / (calls_per_change * rate)
            if interval <= longest:
                paced[loja_id] = interval
    return paced


# --- 2. claiming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushItem:
    pendente_id: int
    variante_id: int
    produto_id: int
    inventory_item_id: int
    quantidade: int  # what Shopify must show
    esperado: int | None  # what Shopify is expected to show (changeFromQuantity)
    confirmado: bool
    evento_id: int
    desde: object
    stale_desde: object = None


@dataclass
class LojaPush:
    """One loja's share of a claim: its credentials stay in memory only, for the HTTP call."""

    loja_id: int
    deposito_id: int
    shop_domain: str
    access_token: str
    api_version: str
    location_id: str
    items: list[PushItem] = field(default_factory=list)
    credential: LojaCredential | None = field(default=None, repr=False)  # renews an expiring token

    def __repr__(self) -> str:  # never the token
        return f"LojaPush(loja_id={self.loja_id}, items={len(self.items)})"

    def idempotency_key(self, changes: list[tuple[int, int, int | None]]) -> str:
        """Derived from the movements behind the push and what it sets: the same push retried
        (a pusher killed after Shopify applied it) is the same key; another push is another."""
        newest = max((i.evento_id for i in self.items), default=0)
        text = f"{self.loja_id}|{self.location_id}|{newest}|" + ";".join(f"{a}:{b}:{c}" for a, b, c in sorted(changes))
        return "chegouhub-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _due(now):
    return PushPendente.objects.filter(proxima_em__lte=now).exclude(em_envio_ate__gt=now)


# A push that takes a variant to 0 while its Shopify still shows stock (or may: never read): until
# it lands, the store can sell a unit the depósito no longer has.
SELLING_WHAT_IS_GONE = (Q(variante__shopify_disponivel__gt=0) | Q(variante__shopify_disponivel__isnull=True)) & Q(
    variante__produto__estoque_atual__lte=F("loja__estoque_reserva"))


def lojas_selling_what_is_gone(loja_ids: set[int], now=None) -> set[int]:
    """Those of `loja_ids` with such a push due."""
    if not loja_ids:
        return set()
    return set(_due(now or timezone.now()).filter(SELLING_WHAT_IS_GONE, loja_id__in=loja_ids)
               .values_list("loja_id", flat=True))


def claim_pushes(*, skip_lojas: set[int] = frozenset(), per_loja: int = MAX_PER_CALL) -> list[LojaPush]:
    """Lease the due rows of every syncing loja but `skip_lojas`, at most `per_loja` each."""
    now = timezone.now()
    plans: list[LojaPush] = []
    lojas = list(syncing_lojas().exclude(pk__in=skip_lojas).filter(
        pk__in=_due(now).values("loja_id")).order_by("pk"))
    for loja in lojas:
        with transaction.atomic():
            qs = _due(now).filter(loja=loja).select_for_update(skip_locked=True, of=("self",))
            # Those selling what is gone first: behind a backlog (a loja turning sync on) they would
            # otherwise wait their turn while the loja is called at the urgent pace.
            urgent_first = Case(When(SELLING_WHAT_IS_GONE, then=Value(0)), default=Value(1))
            rows = list(qs.order_by(urgent_first, "id")[:per_loja])
            if not rows:
                continue
            PushPendente.objects.filter(pk__in=[r.pk for r in rows]).update(
                em_envio_ate=now + timedelta(seconds=LEASE_SECONDS))
            links = {v.pk: v for v in VarianteShopify.objects.filter(pk__in=[r.variante_id for r in rows])}
            stock = dict(Produto.objects.filter(pk__in=[v.produto_id for v in links.values()])
                         .values_list("pk", "estoque_atual"))
        plan = LojaPush(loja_id=loja.pk, deposito_id=loja.deposito_id, shop_domain=loja.shop_domain,
                        access_token=loja.access_token, api_version=loja.api_version, location_id=loja.location_id,
                        credential=LojaCredential.of(loja))
        for r in rows:
            v = links[r.variante_id]
            plan.items.append(PushItem(
                pendente_id=r.pk, variante_id=v.pk, produto_id=v.produto_id, inventory_item_id=v.inventory_item_id,
                quantidade=max(stock.get(v.produto_id, 0) - loja.estoque_reserva, 0),
                esperado=v.shopify_disponivel, confirmado=v.shopify_confirmado, evento_id=r.evento_id,
                desde=r.desde, stale_desde=r.stale_desde))
        plans.append(plan)
    return plans


# --- 3. recording what Shopify said --------------------------------------------------------------


@dataclass
class PushOutcome:
    """What the HTTP part learned for one loja's claim (pusher.py fills it)."""

    plan: LojaPush
    confirmed: dict[int, int] = field(default_factory=dict)  # variante id -> quantity Shopify now shows
    skipped: list[int] = field(default_factory=list)  # variante ids already right: no call made
    reread: dict[int, int | None] = field(default_factory=dict)  # variante id -> Shopify's, after a stale answer
    error: str = ""  # the whole claim failed (network, Shopify down, userErrors): back off
    failed: dict[int, str] = field(default_factory=dict)  # variante id -> why it alone backs off
    stale: list[int] = field(default_factory=list)  # variante ids refused as stale, tried again shortly
    location_id: str = ""  # the primary location, when the loja had none yet


def record_results(outcomes: list[PushOutcome]) -> None:
    now = timezone.now()
    for out in outcomes:
        with transaction.atomic():
            # The envios' foreign keys checked (and their produto and loja rows locked FOR KEY SHARE)
            # as they are inserted, before record_events takes the depósito's event-log lock: a
            # webhook locks its produtos (and the Django path its loja) first and that lock second,
            # so checking them at COMMIT, with the event-log lock held, deadlocks with it.
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _record_one(out, now)


def _record_one(out: PushOutcome, now) -> None:
    plan = out.plan
    items = {i.variante_id: i for i in plan.items}
    if out.location_id and not plan.location_id:
        Loja.objects.filter(pk=plan.loja_id, location_id="").update(location_id=out.location_id)
    # A confirmed quantity: the compare-and-set held, so a sale of this loja read since the claim
    # happened on Shopify after the push, and its adjustment (now - esperado) stays on top of it.
    # A re-read quantity replaces what was expected. One statement each: a loja's share
    # of a round under load is tens of variants.
    changed = {v: (q, items[v].esperado, True) for v, q in out.confirmed.items()}
    changed.update({v: (q, None, False) for v, q in out.reread.items() if v not in out.confirmed})
    done = [items[v] for v in [*out.confirmed, *out.skipped]]
    with connection.cursor() as cur:
        if changed:
            ids = sorted(changed)
            cur.execute(
                f"UPDATE {VarianteShopify._meta.db_table} v SET shopify_disponivel = "
                "CASE WHEN c.base IS NULL THEN c.q ELSE v.shopify_disponivel + (c.q - c.base) END, "
                "shopify_confirmado = c.ok, sincronizado_em = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::boolean[]) AS c(id, q, base, ok) "
                "WHERE v.id = c.id",
                [now, ids, [changed[v][0] for v in ids], [changed[v][1] for v in ids], [changed[v][2] for v in ids]])
        if done:
            # Done unless a newer change arrived meanwhile (the ingest moved its evento_id): then pushed again.
            cur.execute(f"DELETE FROM {PushPendente._meta.db_table} p USING unnest(%s::bigint[], %s::bigint[]) "
                        "AS d(id, evento_id) WHERE p.id = d.id AND p.evento_id = d.evento_id",
                        [[i.pendente_id for i in done], [i.evento_id for i in done]])
    retry = [i.pendente_id for i in plan.items if i.variante_id not in out.confirmed and i.variante_id not in out.skipped]
    for variante_id, why in out.failed.items():
        _back_off([items[variante_id].pendente_id], why, now)
        retry.remove(items[variante_id].pendente_id)
    stale = [items[v].pendente_id for v in out.stale]
    PushPendente.objects.filter(pk__in=stale).update(
        em_envio_ate=None, stale_desde=Coalesce(F("stale_desde"), Value(now)),
        proxima_em=now + timedelta(seconds=STALE_RETRY_SECONDS))
    retry = [pk for pk in retry if pk not in set(stale)]
    PushPendente.objects.filter(pk__in=[items[v].pendente_id for v in out.reread]).update(stale_desde=None)
    if out.error:
        _back_off(retry, out.error, now)
    else:  # stale, or a newer change: at once, with the fresh quantity
        PushPendente.objects.filter(pk__in=retry).update(em_envio_ate=None, tentativas=0, ultimo_erro="")
    PushPendente.objects.filter(pk__in=[i.pendente_id for i in done]).update(em_envio_ate=None, desde=now)
    envios, events = [], []
    for variante_id, quantity in out.confirmed.items():
        item = items[variante_id]
        atraso = max(int((now - item.desde).total_seconds() * 1000), 0)
        envios.append(EnvioEstoque(loja_id=plan.loja_id, produto_id=item.produto_id,
                                   inventory_item_id=item.inventory_item_id, quantidade=quantity,
                                   anterior=item.esperado, atraso_ms=atraso, evento_id=item.evento_id))
        events.append(NewEvent(type="estoque_sincronizado_shopify", loja_id=plan.loja_id,
                               deposito_id=plan.deposito_id, data={
                                   "loja_id": plan.loja_id, "deposito_id": plan.deposito_id,
                                   "produto_id": item.produto_id, "inventory_item_id": item.inventory_item_id,
                                   "quantidade": quantity, "atraso_ms": atraso}))
    envios.sort(key=lambda e: e.produto_id)  # their rows locked in id order, as the webhook paths lock them
    EnvioEstoque.objects.bulk_create(envios)
    record_events(events)


def _back_off(pendente_ids: list[int], error: str, now) -> None:
    for row in PushPendente.objects.filter(pk__in=pendente_ids).only("id", "tentativas"):
        delay = min(BACKOFF_BASE_SECONDS * 2 ** row.tentativas, BACKOFF_MAX_SECONDS)
        PushPendente.objects.filter(pk=row.pk).update(
            tentativas=row.tentativas + 1, proxima_em=now + timedelta(seconds=delay), em_envio_ate=None,
            ultimo_erro=error[:500])


# --- reconciliation -----------------------------------------------------------------------------


def record_divergences(loja: Loja, found: dict[int, int | None]) -> list[Divergencia]:
    """`found`: variante id -> Shopify's `available` now. Each one that differs from what the
    depósito says is recorded (no movement: the stock did not change), taken as Shopify's, and queued."""
    links = list(VarianteShopify.objects.filter(loja=loja, pk__in=found).select_related("produto"))
    wrong, records = [], []
    for v in links:
        esperado = max(v.produto.estoque_atual - loja.estoque_reserva, 0)
        tinha = found[v.pk]
        if tinha != esperado:
            wrong.append(v)
            records.append(Divergencia(loja=loja, produto=v.produto, inventory_item_id=v.inventory_item_id,
                                       sku=v.sku, shopify_tinha=tinha, esperado=esperado))
    with transaction.atomic():
        for v in wrong:  # the right ones keep their (possibly confirmed) quantity
            VarianteShopify.objects.filter(pk=v.pk).update(shopify_disponivel=found[v.pk], shopify_confirmado=False)
        Divergencia.objects.bulk_create(records)
        queue_variants(wrong)
    return records
