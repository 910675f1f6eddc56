"""Is the channel layer usable right now? (status endpoint, /readyz)"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def channel_layer_available(timeout: float = 1.0) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False

    async def probe() -> None:
        # A send to a throwaway channel exercises the real connection (Redis) or the in-memory layer.
        name = await layer.new_channel("probe.")
        await layer.send(name, {"type": "probe"})
        await layer.receive(name)

    try:
        async_to_sync(asyncio.wait_for)(probe(), timeout)
        return True
    except Exception:
        return False
