"""A transaction's events go to the pub/sub layer pipelined, and arrive as `group_send` would send them."""

from __future__ import annotations

import os
import uuid

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from chegouhub.realtime import events

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.redis


async def test_pipelined_publish_arrives_in_order_like_group_send(monkeypatch):
    layer = RedisPubSubChannelLayer(hosts=[REDIS_TEST_URL], prefix=f"t{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    try:
        channel = await layer.new_channel()
        await layer.group_add("loja.7", channel)
        other = await layer.new_channel()
        await layer.group_add("loja.8", other)
        messages = [events.GroupMessage("loja.7", {"id": 11, "type": "a"}, 10),
                    events.GroupMessage("loja.8", {"id": 12, "type": "b"}, 3),
                    events.GroupMessage("loja.7", {"id": 13, "type": "c"}, 11)]
        assert await events._pubsub_publish_many(layer, messages)
        got = [await layer.receive(channel), await layer.receive(channel)]
        assert got == [events.group_message({"id": 11, "type": "a"}, 10), events.group_message({"id": 13, "type": "c"}, 11)]
        assert await layer.receive(other) == events.group_message({"id": 12, "type": "b"}, 3)
        assert await events.apublish(messages[:1])  # a single message takes plain group_send
        assert await layer.receive(channel) == events.group_message({"id": 11, "type": "a"}, 10)
    finally:
        await layer.flush()
