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
