"""Is the channel layer usable right now? (status endpoint, /readyz)"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

PROBE_GROUP = "realtime.probe"


def channel_layer_available(timeout: float = 1.0) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False

    async def probe() -> None:
        # A group_send to a group nobody joins is a real round trip to Redis (channels-redis
        # trims and reads the group's set; the pub/sub layer publishes) and, unlike a
        # receive() on a process-local channel, never competes with the open sockets' receive
        # loop for the layer's receive lock.
        await layer.group_send(PROBE_GROUP, {"type": "realtime.probe"})

    try:
        async_to_sync(asyncio.wait_for)(probe(), timeout)
        return True
    except Exception:
        return False
