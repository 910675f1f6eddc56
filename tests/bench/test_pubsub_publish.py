"""A transaction's events reach the pub/sub layers pipelined, one message per group, in order."""

from __future__ import annotations

import os
import uuid

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from chegouhub.realtime import events
from chegouhub.realtime.layers import FanoutPubSubChannelLayer

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.redis


@pytest.mark.parametrize("layer_class", [RedisPubSubChannelLayer, FanoutPubSubChannelLayer])
async def test_a_transactions_events_arrive_as_one_batch_per_group_in_order(monkeypatch, layer_class):
    layer = layer_class(hosts=[REDIS_TEST_URL], prefix=f"t{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events, "_publish_paused_until", 0.0)  # an earlier test's failure must not pause it
    pipelined = []
    real = events._pubsub_publish_many

    async def spy(layer_, batches):
        pipelined.append(await real(layer_, batches))
        return pipelined[-1]

    monkeypatch.setattr(events, "_pubsub_publish_many", spy)
    try:
        channel = await layer.new_channel()
        await layer.group_add("loja.7", channel)
        other = await layer.new_channel()
        await layer.group_add("loja.8", other)
        messages = [events.GroupMessage("loja.7", {"id": 11, "type": "a"}, 10),
                    events.GroupMessage("loja.8", {"id": 12, "type": "b"}, 3),
                    events.GroupMessage("loja.7", {"id": 13, "type": "c"}, 11)]
        assert await events.apublish(messages)
        assert pipelined == [True]  # two groups: one pipelined round trip, not a group_send each
        assert await layer.receive(channel) == {
            "type": "event.batch", "events": [{"id": 11, "type": "a"}, {"id": 13, "type": "c"}], "prev_ids": [10, 11]}
        assert await layer.receive(other) == events.group_message({"id": 12, "type": "b"}, 3)
        assert await events.apublish(messages[:1])  # one group: plain group_send
        assert pipelined == [True, False]
        assert await layer.receive(channel) == events.group_message({"id": 11, "type": "a"}, 10)
    finally:
        await layer.flush()
