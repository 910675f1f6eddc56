"""Events recorded by other processes, for sockets on the in-memory channel layer.

The embedded default (`make run`: no `REDIS_URL`) has one channel layer per process, so a socket
hears live only what its own server process records; what `push_stock` or `process_webhooks`
record reached it at the scope's next live event (a gap, then a log read). With
`WS_LOG_RELAY_SECONDS` > 0 each server process reads the event log that often while it has
sockets, and hands what is new to its own layer with each event's `prev_id`, as `publish` does.
The sockets' delivery cursor drops what they already sent, so the events this process published
itself cost nothing but the read. With Redis every process publishes for itself: leave it at 0.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Max

from chegouhub.common.logging import channels_log

from .events import GroupMessage, _group_for, _publish_async, _scope_filter, _scope_of, serialize_event
from .models import Event

READ_LIMIT = 1000


def newest_event_id() -> int:
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def read_new_events(after: int) -> list[GroupMessage]:
    """The log's events after `after`, in id order, as layer messages with their scope's prev_id."""
    rows = list(Event.objects.filter(id__gt=after).order_by("id")[:READ_LIMIT])
    previous: dict[tuple[str, int], int] = {}
    messages = []
    for row in rows:
        scope = _scope_of(row)
        if scope not in previous:
            previous[scope] = (Event.objects.filter(_scope_filter(*scope), id__lt=row.id)
                               .aggregate(m=Max("id"))["m"] or 0)
        messages.append(GroupMessage(_group_for(row), serialize_event(row), previous[scope]))
        previous[scope] = row.id
    return messages


class LogRelay:
    """One per event loop, running while the loop has sockets (like the Sweeper)."""

    _by_loop: dict = {}

    def __init__(self):
        self.sockets: set = set()
        self.task: asyncio.Task | None = None

    @staticmethod
    def enabled() -> bool:
        return settings.WS_LOG_RELAY_SECONDS > 0

    @classmethod
    def watch(cls, consumer) -> None:
        if not cls.enabled():
            return
        loop = asyncio.get_running_loop()
        relay = cls._by_loop.get(loop)
        if relay is None:
            relay = cls._by_loop[loop] = cls()
        relay.sockets.add(consumer)
        if relay.task is None or relay.task.done():
            relay.task = loop.create_task(relay.run(loop))

    @classmethod
    def forget(cls, consumer) -> None:
        for relay in cls._by_loop.values():
            relay.sockets.discard(consumer)

    async def run(self, loop) -> None:
        # Read from one pass back: ids of different scopes may commit out of order (each scope
        # is in order, see events.py), and a transaction committing late is read on the next pass.
        try:
            before = last = await database_sync_to_async(newest_event_id)()
            while self.sockets:
                await asyncio.sleep(settings.WS_LOG_RELAY_SECONDS)
                try:
                    messages = await database_sync_to_async(read_new_events)(before)
                    if messages:
                        await _publish_async(messages)
                    before, last = last, max([last] + [m[1]["id"] for m in messages])
                except Exception as exc:  # the database away: the sockets' own resume covers it
                    channels_log.warning("event log relay failed", extra={"error_type": type(exc).__name__})
        finally:
            if self.sockets:
                self.task = None
            else:
                type(self)._by_loop.pop(loop, None)
