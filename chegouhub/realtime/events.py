"""Append events to the durable log inside the caller's transaction; publish them after commit.

Every event type has a schema here (its stream and the keys of its data); `record_events`
refuses an event that does not match, so what the sockets emit is what the contract says.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import connection, transaction
from django.db.models import Max, Q

from chegouhub.common.logging import channels_log
from chegouhub.stores.models import Loja

from . import metrics

from .models import Event, Stream

EVENT_SCHEMAS: dict[str, tuple[str, frozenset[str]]] = {
    "venda_shopify_processada": (
        Stream.ESTOQUE,
        frozenset({"loja_id", "deposito_id", "order_id", "order_name", "itens", "nao_mapeados", "linhas_invalidas",
                   "valor"}),
    ),
    "estoque_atualizado": (
        Stream.ESTOQUE,
        frozenset({"loja_id", "deposito_id", "produto_id", "sku", "estoque_anterior", "estoque_atual", "quantidade",
                   "origem"}),
    ),
    "produto_estoque_zero": (Stream.ESTOQUE, frozenset({"loja_id", "deposito_id", "produto_id", "sku", "nome", "estoque_atual"})),
    "alerta_estoque_gerado": (
        Stream.ESTOQUE,
        frozenset(
            {"loja_id", "deposito_id", "alerta_id", "produto_id", "sku", "tipo", "prioridade", "estoque_atual", "estoque_minimo"}
        ),
    ),
    "system_notification": (Stream.NOTIFICATIONS, frozenset({"message", "priority"})),
    "webhook_status_change": (Stream.NOTIFICATIONS, frozenset({"loja_id", "shop_domain", "status", "detalhes"})),
}

# One publish (all the groups of one transaction) never waits longer than this on the channel layer,
# and after a failure publishing is skipped for a short while: during a Redis outage each webhook
# pays at most one fast failure instead of a timeout. Skipped events are not lost: they are in
# the log, and sockets back-fill them (see "Ordering and gaps" below) or clients resume/poll.
PUBLISH_TIMEOUT_SECONDS = 2.0
PUBLISH_BACKOFF_SECONDS = 2.0  # doubled on each consecutive failure, up to the max; reset on success
PUBLISH_BACKOFF_MAX_SECONDS = 10.0
_publish_paused_until = 0.0
_publish_failures = 0

# Ordering and gaps
# -----------------
# A client resumes from the highest id it saw, so an event must never become visible after a
# higher-id event of the same scope (loja stream or user notifications), or a client that saw the
# higher one first would skip it forever. Ids are allocated at insert but transactions commit in any
# order, so `record_events` serializes the event-writing tail of transactions *per scope*:
# a transaction-level advisory lock on the scope is taken before the insert and held until
# commit (other lojas are not held up; see _lock_keys). Hence within a scope, commit order is id order, and when event N is visible every lower id of its scope is too.
#
# Publication order can still differ (two processes publish after their commits concurrently),
# and a publish can be lost (Redis down). So each published event carries `prev_id`: the id of the
# previous event of its scope, read under the same lock. A socket that receives an event whose
# prev_id is beyond what it last delivered has a gap, and fills it from the log before delivering
# (chegouhub/realtime/consumers.py). Gap detection costs nothing per event; the log is read only
# when a gap is real.
_ADVISORY_NAMESPACE = {Stream.ESTOQUE: 0x43480001, Stream.NOTIFICATIONS: 0x43480002}


@dataclass
class NewEvent:
    type: str
    data: dict
    loja_id: int | None = None  # stock events: the loja where it happened (None: a manual change)
    user_id: int | None = None
    priority: str = "normal"
    # Stock events: their scope (CONTRACT 10). Left None, record_events takes the loja's depósito.
    deposito_id: int | None = None


def deposito_group(deposito_id: int) -> str:
    """The channel-layer group of a depósito's stock stream: every socket of its lojas."""
    return f"deposito.{deposito_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def serialize_event(event: Event) -> dict:
    return {
        "type": event.type,
        "data": event.data,
        "id": event.id,
        "timestamp": event.created_at.isoformat(),
        "priority": event.priority,
    }


class GroupMessage(tuple):
    """`(group, serialized_event)`, carrying the scope's previous event id for gap detection."""

    prev_id: int | None

    def __new__(cls, group: str, event: dict, prev_id: int | None = None):
        self = super().__new__(cls, (group, event))
        self.prev_id = prev_id
        return self


def _scope_of(event: Event) -> tuple[str, int]:
    if event.stream == Stream.ESTOQUE:
        return Stream.ESTOQUE, event.deposito_id
    return Stream.NOTIFICATIONS, event.user_id


def _scope_filter(stream: str, key: int) -> Q:
    if stream == Stream.ESTOQUE:
        return Q(stream=stream, deposito_id=key)
    return Q(stream=stream, user_id=key)


def _lock_keys(scopes: list[tuple[str, int]]) -> list[tuple[int, int]]:
    # Stock streams lock per depósito (depósitos never wait on each other). Notifications are rare and a
    # transaction may notify several users across several calls (webhook configuration records
    # many lojas at once), so they share one key: acquiring it twice in one transaction is free,
    # and no two notifying transactions can take per-user locks in opposite orders and deadlock.
    keys = set()
    for stream, key in scopes:
        keys.add((_ADVISORY_NAMESPACE[stream], key % 2**31 if stream == Stream.ESTOQUE else 0))
    return sorted(keys)


def _lock_scopes(scopes: list[tuple[str, int]]) -> None:
    """Hold the scopes' event-log locks until the transaction ends (PostgreSQL; see above).

    Keys are taken in a stable order within a call. A transaction that records stock events for
    several lojas should do it in one call (or in loja id order), like any other row locks.
    """
    with connection.cursor() as cursor:
        for namespace, key in _lock_keys(scopes):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])


def check_schema(new: NewEvent) -> str:
    """The event's stream; raises when its data does not match its type's schema."""
    stream, keys = EVENT_SCHEMAS[new.type]
    if stream == Stream.ESTOQUE:  # every stock event names its depósito (CONTRACT 10), even one
        keys = keys | {"deposito_id"}  # registered elsewhere without it
    if set(new.data) != keys:
        raise ValueError(f"event {new.type} data keys {sorted(new.data)} != schema {sorted(keys)}")
    if stream == Stream.NOTIFICATIONS and new.user_id is None:
        raise ValueError(f"event {new.type} goes to a user's notifications and needs user_id")
    return stream


def stock_lock_key(deposito_id: int) -> tuple[int, int]:
    """The advisory lock key of a depósito's stock stream (for callers that write the log in raw SQL)."""
    (key,) = _lock_keys([(Stream.ESTOQUE, deposito_id)])
    return key


def _fill_depositos(events: list[NewEvent]) -> None:
    """Stock events given only their loja take its depósito (one query for the lot)."""
    missing = {new.loja_id for new in events
               if new.deposito_id is None and EVENT_SCHEMAS[new.type][0] == Stream.ESTOQUE}
    if missing:
        depositos = dict(Loja.objects.filter(pk__in=missing).values_list("pk", "deposito_id"))
        for new in events:
            if new.deposito_id is None and new.loja_id in depositos:
                new.deposito_id = depositos[new.loja_id]
    for new in events:
        if new.deposito_id is not None:
            new.data.setdefault("deposito_id", new.deposito_id)


def record_events(events: list[NewEvent]) -> list[Event]:
    """Write events to the log (inside the current transaction) and publish them on commit."""
    rows = []
    _fill_depositos(events)
    for new in events:
        stream = check_schema(new)
        if stream == Stream.ESTOQUE and new.deposito_id is None:
            raise ValueError(f"stock event {new.type} needs a depósito (or a loja that has one)")
        rows.append(
            Event(
                stream=stream,
                type=new.type,
                loja_id=new.loja_id,
                user_id=new.user_id,
                deposito_id=new.deposito_id if stream == Stream.ESTOQUE else None,
                priority=new.priority,
                data=new.data,
            )
        )
    if not rows:
        return []
    scopes = sorted({_scope_of(row) for row in rows})
    # savepoint=False: joins the caller's transaction; in autocommit it opens one, so the lock
    # is held until these rows are committed.
    with transaction.atomic(savepoint=False):
        _lock_scopes(scopes)
        previous = {
            scope: Event.objects.filter(_scope_filter(*scope)).aggregate(m=Max("id"))["m"] or 0 for scope in scopes
        }
        created = Event.objects.bulk_create(rows)
        messages = []
        for row in sorted(created, key=lambda r: r.id):
            scope = _scope_of(row)
            messages.append(GroupMessage(_group_for(row), serialize_event(row), previous[scope]))
            previous[scope] = row.id
    # Bound explicitly: a lambda over a loop variable would publish the last batch N times.
    transaction.on_commit(functools.partial(publish, messages))
    return created


def _group_for(event: Event) -> str:
    if event.stream == Stream.ESTOQUE:
        return deposito_group(event.deposito_id)
    return user_group(event.user_id)


def group_filter(group: str) -> Q:
    """The log's events a group receives: `_group_for` the other way round."""
    kind, _, key = group.partition(".")
    return _scope_filter(Stream.ESTOQUE if kind == "deposito" else Stream.NOTIFICATIONS, int(key))


def publish(messages: list[tuple[str, dict]]) -> bool:
    """Fan out to the channel layer. Never raises and never blocks long: clients catch up from the log."""
    global _publish_failures
    if _publishing_paused():
        return False
    try:
        async_to_sync(_publish_async)(messages)
    except Exception as exc:  # the webhook must not fail because Redis did
        _publish_failed(exc, len(messages))
        return False
    _publish_failures = 0
    return True


async def apublish(messages: list[tuple[str, dict]]) -> bool:
    """`publish` for async callers (the lean webhook route): the same timeout and pause; never raises."""
    global _publish_failures
    if _publishing_paused():
        return False
    try:
        await _publish_async(messages)
    except Exception as exc:  # the webhook must not fail because Redis did
        _publish_failed(exc, len(messages))
        return False
    _publish_failures = 0
    return True


def _publishing_paused() -> bool:
    if time.monotonic() < _publish_paused_until:
        metrics.PUBLISH_FAILURES.inc()
        return True
    return False


def _publish_failed(exc: Exception, count: int) -> None:
    global _publish_paused_until, _publish_failures
    _publish_failures += 1
    pause = min(PUBLISH_BACKOFF_SECONDS * 2 ** (_publish_failures - 1), PUBLISH_BACKOFF_MAX_SECONDS)
    _publish_paused_until = time.monotonic() + pause
    channels_log.warning(
        "channel layer publish failed; clients will catch up from the event log",
        extra={"error_type": type(exc).__name__, "events": count},
    )
    metrics.PUBLISH_FAILURES.inc()


def group_message(payload: dict, prev_id: int | None) -> dict:
    """One event as the consumers receive it: `event.message` routes to `ScopedEventConsumer.event_message`."""
    return {"type": "event.message", "event": payload, "prev_id": prev_id}


def group_batch(items: list[tuple[dict, int | None]]) -> dict:
    """A transaction's events for one group, in id order, as one message (`event.batch`).

    One channel-layer message per group per transaction instead of one per event: each member
    socket wakes once for the whole sale (docs/benchmark.md, broadcast).
    """
    return {"type": "event.batch", "events": [payload for payload, _ in items],
            "prev_ids": [prev_id for _, prev_id in items]}


def _by_group(messages: list[tuple[str, dict]]) -> dict[str, dict]:
    """The messages grouped per group (order kept within each) as one layer message each."""
    groups: dict[str, list[tuple[dict, int | None]]] = {}
    for item in messages:
        group, payload = item
        groups.setdefault(group, []).append((payload, getattr(item, "prev_id", None)))
    return {group: group_message(*items[0]) if len(items) == 1 else group_batch(items)
            for group, items in groups.items()}


async def _publish_async(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        batches = _by_group(messages)
        if await _pubsub_publish_many(layer, batches):
            return
        for group, message in batches.items():
            await layer.group_send(group, message)

    await asyncio.wait_for(send_all(), PUBLISH_TIMEOUT_SECONDS)


async def _pubsub_publish_many(layer, batches: dict[str, dict]) -> bool:
    """The pub/sub layers: every group's PUBLISH of one transaction pipelined, one round trip per shard.

    What `group_send` does group by group (same channel names, same serializer, under the shard's
    lock), without a round trip per group; the benchmark's hot path (docs/benchmark.md). Returns
    False for any other layer, which then gets one `group_send` per group.
    """
    if not isinstance(layer, RedisPubSubChannelLayer) or len(batches) < 2:
        return False
    loop_layer = layer._get_layer()
    shards: dict[int, tuple] = {}
    for group, message in batches.items():
        name = loop_layer._get_group_channel_name(group)
        shard = loop_layer._get_shard(name)
        shards.setdefault(id(shard), (shard, []))[1].append((name, layer.serialize(message)))
    for shard, commands in shards.values():
        async with shard._lock:
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            for name, data in commands:
                pipe.publish(name, data)
            await pipe.execute()
    return True
