"""The default channel layer: channels-redis' pub/sub layer, tuned for many sockets per process.

`RedisPubSubChannelLayer` subscribes one Redis channel per consumer (a SUBSCRIBE round trip at
every socket open, and per-channel bookkeeping in redis-py for the socket's life) and decodes a
group message once per member socket. With 10,000 sockets on a loja, one event meant 10,000
msgpack decodes in the receiving processes (docs/benchmark.md). This layer changes two things
and keeps the rest (groups, PUBLISH, sharding, reconnection) as channels-redis does it:

- Specific channels are process-local: their names carry a per-process token
  (`<prefix>specific.<token>!<uuid>`, channels' convention for process-local channels), and the
  process holds one pattern subscription per shard for all of them. `send` to such a channel
  from any process still works: it is a PUBLISH that the pattern delivers.
- A message is decoded once per process, and every member socket receives that same object, so
  it must be treated as read-only (the consumers only read it; `encode_event` caches its JSON).
"""

from __future__ import annotations

import asyncio
import uuid

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class _Mailbox:
    """A socket's inbox: what asyncio.Queue does for one reader, in two slots.

    An asyncio.Queue carries four deques (about 2.5 KB empty); ten thousand sockets each hold
    one for their whole life, and only ever one reader waits on it.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self):
        self._items: list = []
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        self._items.append(item)
        self.wake()

    def wake(self, *_) -> None:
        """Wake the reader waiting in `wait` (also a done-callback: the socket's client side)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def pop(self):
        return self._items.pop(0)

    async def wait(self) -> None:
        """Until an item is in, or `wake` is called."""
        if self._items:
            return
        if self._waiter is not None:
            raise RuntimeError("a channel has one reader at a time")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def get(self):
        if self._waiter is not None:
            raise RuntimeError("a channel has one reader at a time")
        while not self._items:
            await self.wait()  # a wake without an item (nothing calls it so here) waits again
        return self.pop()


class _Shard(RedisSingleShardConnection):
    async def psubscribe(self, pattern: str) -> None:
        async with self._lock:
            if pattern not in self._subscribed_to:  # reset by flush(), like channel subscriptions
                self._ensure_redis()
                self._ensure_receiver()
                await self._pubsub.psubscribe(pattern)
                self._subscribed_to.add(pattern)

    def _receive_message(self, message):
        if message is None:
            return
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        queue = layer.channels.get(name)
        if queue is not None:
            queue.put_nowait(layer.channel_layer.deserialize(message["data"]))
            return
        members = layer.groups.get(name)
        if members:
            decoded = layer.channel_layer.deserialize(message["data"])  # once, for every member
            for channel in members:
                queue = layer.channels.get(channel)
                if queue is not None:
                    queue.put_nowait(decoded)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]
        self._token = uuid.uuid4().hex[:16]

    def _pattern(self, prefix: str) -> str:
        return f"{_glob_escape(self.prefix + prefix + self._token)}!*"

    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{self._token}!{uuid.uuid4().hex}"
        self.channels[channel] = _Mailbox()
        pattern = self._pattern(prefix)
        try:
            for shard in self._shards:  # a sender publishes on the shard its channel name hashes to
                await shard.psubscribe(pattern)
        except BaseException:
            self.channels.pop(channel, None)  # Redis down: the socket is refused, its inbox goes
            raise
        return channel

    async def receive(self, channel):
        queue = self.channels.get(channel)
        if queue is None:
            raise RuntimeError(f"{type(self).__name__}.receive: {channel!r} is not a channel of this process")
        try:
            return await queue.get()  # already decoded by the shard
        except (asyncio.CancelledError, asyncio.TimeoutError, GeneratorExit):
            # Channels cancels receive when the consumer exits: forget the channel (no Redis
            # round trip: the process-wide pattern stays subscribed).
            self.channels.pop(channel, None)
            raise


class FanoutPubSubChannelLayer(RedisPubSubChannelLayer):
    """`RedisPubSubChannelLayer` with process-local specific channels and one decode per process."""

    def mailbox(self, channel: str) -> _Mailbox | None:
        """The channel's inbox, for a consumer that reads it directly (consumers.py, `_serve`)."""
        return self._get_layer().channels.get(channel)

    def forget(self, channel: str) -> None:
        """Drop a closed socket's inbox and its group memberships in this process.

        Its consumer may end without `group_discard` (a failure, a cancellation); its name would
        otherwise stay in the groups for the process's life. A group left empty keeps its Redis
        subscription until the next `group_discard` on it (harmless: nobody here receives it).
        """
        layer = self._layers.get(asyncio.get_running_loop())  # never a new layer (shutdown)
        if layer is None:
            return
        layer.channels.pop(channel, None)
        for members in layer.groups.values():
            members.discard(channel)

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
