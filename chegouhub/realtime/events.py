"""Append events to the durable log inside the caller's transaction; publish them after commit.

Every event type has a schema here (its stream and the keys of its data); `record_events`
refuses an event that does not match, so what the sockets emit is what the contract says.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chegouhub.common.logging import channels_log

from .models import Event, Stream

EVENT_SCHEMAS: dict[str, tuple[str, frozenset[str]]] = {
    "venda_shopify_processada": (
        Stream.ESTOQUE,
        frozenset({"loja_id", "order_id", "order_name", "itens", "nao_mapeados"}),
    ),
    "estoque_atualizado": (
        Stream.ESTOQUE,
        frozenset({"loja_id", "produto_id", "sku", "estoque_anterior", "estoque_atual", "quantidade", "origem"}),
    ),
    "produto_estoque_zero": (Stream.ESTOQUE, frozenset({"loja_id", "produto_id", "sku", "nome", "estoque_atual"})),
    "alerta_estoque_gerado": (
        Stream.ESTOQUE,
        frozenset(
            {"loja_id", "alerta_id", "produto_id", "sku", "tipo", "prioridade", "estoque_atual", "estoque_minimo"}
        ),
    ),
    "system_notification": (Stream.NOTIFICATIONS, frozenset({"message", "priority"})),
    "webhook_status_change": (Stream.NOTIFICATIONS, frozenset({"loja_id", "shop_domain", "status", "detalhes"})),
}

PUBLISH_TIMEOUT_SECONDS = 2.0


@dataclass
class NewEvent:
    type: str
    data: dict
    loja_id: int | None = None
    user_id: int | None = None
    priority: str = "normal"
    extra_user_ids: list[int] = field(default_factory=list)


def loja_group(loja_id: int) -> str:
    return f"loja.{loja_id}"


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


def record_events(events: list[NewEvent]) -> list[Event]:
    """Write events to the log (inside the current transaction) and publish them on commit."""
    rows = []
    for new in events:
        stream, keys = EVENT_SCHEMAS[new.type]
        if set(new.data) != keys:
            raise ValueError(f"event {new.type} data keys {sorted(new.data)} != schema {sorted(keys)}")
        if stream == Stream.NOTIFICATIONS and new.user_id is None:
            raise ValueError(f"event {new.type} goes to a user's notifications and needs user_id")
        rows.append(
            Event(
                stream=stream,
                type=new.type,
                loja_id=new.loja_id,
                user_id=new.user_id,
                priority=new.priority,
                data=new.data,
            )
        )
    if not rows:
        return []
    created = Event.objects.bulk_create(rows)
    messages = [(_group_for(row), serialize_event(row)) for row in created]
    # Bound explicitly: a lambda over a loop variable would publish the last batch N times.
    transaction.on_commit(functools.partial(publish, messages))
    return created


def _group_for(event: Event) -> str:
    if event.stream == Stream.ESTOQUE:
        return loja_group(event.loja_id)
    return user_group(event.user_id)


def publish(messages: list[tuple[str, dict]]) -> bool:
    """Fan out to the channel layer. Never raises: clients catch up from the log."""
    try:
        async_to_sync(_publish_async)(messages)
        return True
    except Exception as exc:  # the webhook must not fail because Redis did
        channels_log.warning(
            "channel layer publish failed; clients will catch up from the event log",
            extra={"error_type": type(exc).__name__, "events": len(messages)},
        )
        from chegouhub.common import metrics

        metrics.PUBLISH_FAILURES.inc()
        return False


async def _publish_async(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, payload in messages:
        await asyncio.wait_for(
            layer.group_send(group, {"type": "event.message", "event": payload}), PUBLISH_TIMEOUT_SECONDS
        )
