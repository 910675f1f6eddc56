"""The default channel layer (chegouhub/realtime/layers.py) against the real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from chegouhub.realtime.layers import FanoutPubSubChannelLayer

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.redis


def make_layer(prefix: str) -> FanoutPubSubChannelLayer:
    return FanoutPubSubChannelLayer(hosts=[REDIS_TEST_URL], prefix=prefix)


async def test_group_members_in_two_processes_each_get_the_message_and_one_decode_per_process():
    prefix = f"t{uuid.uuid4().hex[:8]}"
    here, there = make_layer(prefix), make_layer(prefix)  # two layers: two processes' worth of state
    try:
        a, b = await here.new_channel(), await here.new_channel()
        c = await there.new_channel()
        for layer, channel in ((here, a), (here, b), (there, c)):
            await layer.group_add("loja.1", channel)
        await here.group_send("loja.1", {"type": "event.message", "event": {"id": 1}, "prev_id": 0})
        got_a, got_b, got_c = await asyncio.wait_for(
            asyncio.gather(here.receive(a), here.receive(b), there.receive(c)), 5)
        assert got_a == got_c == {"type": "event.message", "event": {"id": 1}, "prev_id": 0}
        assert got_a is got_b  # decoded once for the process's two sockets
        await here.group_discard("loja.1", b)
        await there.group_send("loja.1", {"type": "event.message", "event": {"id": 2}, "prev_id": 1})
        assert (await asyncio.wait_for(here.receive(a), 5))["event"] == {"id": 2}
        assert here._get_layer().channels[b].empty()
    finally:
        await here.flush()
        await there.flush()


async def test_send_to_a_process_local_channel_from_another_process():
    prefix = f"t{uuid.uuid4().hex[:8]}"
    here, there = make_layer(prefix), make_layer(prefix)
    try:
        channel = await here.new_channel()
        assert "!" in channel  # channels' naming for a process-local channel
        await asyncio.sleep(0.05)
        await there.send(channel, {"type": "hello", "n": 1})
        assert await asyncio.wait_for(here.receive(channel), 5) == {"type": "hello", "n": 1}
    finally:
        await here.flush()
        await there.flush()


async def test_a_cancelled_receive_forgets_the_channel_without_touching_the_others():
    layer = make_layer(f"t{uuid.uuid4().hex[:8]}")
    try:
        gone, kept = await layer.new_channel(), await layer.new_channel()
        waiter = asyncio.ensure_future(layer.receive(gone))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gone not in layer._get_layer().channels
        await layer.send(kept, {"type": "still.here"})
        assert (await asyncio.wait_for(layer.receive(kept), 5))["type"] == "still.here"
    finally:
        await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_sockets_read_their_inbox_directly_and_a_closed_one_leaves_nothing_behind(settings, make_user,
                                                                                       make_loja):
    """The consumers' own receive loop on this layer (consumers.py, `_serve`): events arrive in
    order on every socket, a client frame is still answered, and a closed socket's inbox is gone."""
    from channels.db import database_sync_to_async
    from channels.layers import channel_layers, get_channel_layer

    from chegouhub.realtime.events import NewEvent, record_events
    from tests.realtime.conftest import session_key_for
    from tests.realtime.test_consumers import open_socket, receive

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "chegouhub.realtime.layers.FanoutPubSubChannelLayer",
                                           "CONFIG": {"hosts": [REDIS_TEST_URL],
                                                      "prefix": f"t{uuid.uuid4().hex[:8]}"}}}
    channel_layers.backends.pop("default", None)
    owner, loja, key = await database_sync_to_async(
        lambda: (lambda o: (o, make_loja(o), session_key_for(o)))(make_user()))()
    layer = get_channel_layer()
    try:
        a, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
        b, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
        inboxes = layer._get_layer().channels
        assert len(inboxes) == 2

        @database_sync_to_async
        def emit(n):
            from django.db import transaction

            with transaction.atomic():
                return [e.id for e in record_events([NewEvent(
                    type="estoque_atualizado", loja_id=loja.pk,
                    data={"loja_id": loja.pk, "produto_id": i, "sku": f"S{i}", "estoque_anterior": 1,
                          "estoque_atual": 0, "quantidade": -1, "origem": "manual"}) for i in range(n)])]

        ids = await emit(3)
        for comm in (a, b):
            assert [(await receive(comm, timeout=5))["id"] for _ in ids] == ids
        await a.send_to(text_data='{"type": "ping"}')
        assert (await receive(a))["type"] == "pong"
        await a.disconnect()
        for _ in range(50):
            if len(inboxes) == 1:
                break
            await asyncio.sleep(0.02)
        assert len(inboxes) == 1  # the closed socket's inbox is forgotten; the other one stays
        more = await emit(1)
        assert (await receive(b, timeout=5))["id"] == more[0]
        await b.disconnect()
    finally:
        await layer.flush()
        channel_layers.backends.pop("default", None)
