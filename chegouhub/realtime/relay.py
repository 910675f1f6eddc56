"""Events recorded by other processes, for sockets on the in-memory channel layer.

The embedded default (`make run`: no `REDIS_URL`) has one channel layer per process, so a socket
hears live only what its own server process records; what `push_stock` or `process_webhooks`
record reached it at the scope's next live event (a gap, then a log read). With
`WS_LOG_RELAY_SECONDS` > 0 each server process reads the event log that often while it has
sockets: for each group they joined (a depósito's stock, a user's notifications), what came after
what it last relayed, handed to its own layer with each event's `prev_id`, as `publish` does. The
sockets' delivery cursor drops what they already sent, so the events this process published
itself cost nothing but the read. With Redis every process publishes for itself: it stays off.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from django.conf import settings

from chegouhub.common.logging import channels_log

from .events import GroupMessage, _publish_async, group_filter, serialize_event
from .models import Event
from .sweeper import PerLoopTask

READ_LIMIT = 500  # a group's events per read; a full read is followed by another at once


def read_new_events(cursors: dict[str, int]) -> tuple[list[GroupMessage], dict[str, int], bool]:
    """Each group's events after its cursor, in id order, with exact prev_ids (within a scope ids
    become visible in id order, events.py: nothing below a cursor can appear later). Returns the
    messages, the moved cursors, and whether some group had more than one read's worth."""
    messages, moved, full = [], dict(cursors), False
    for group, after in cursors.items():
        rows = list(Event.objects.filter(group_filter(group), id__gt=after).order_by("id")[:READ_LIMIT])
        previous = after
        for row in rows:
            messages.append(GroupMessage(group, serialize_event(row), previous))
            previous = row.id
        moved[group] = previous
        full = full or len(rows) == READ_LIMIT
    return messages, moved, full


class LogRelay(PerLoopTask):
    """One per event loop, running while the loop has sockets (like the Sweeper), with a cursor
    per group its sockets joined."""

    def __init__(self):
        super().__init__()
        self.cursors: dict[str, int] = {}

    @classmethod
    def enabled(cls) -> bool:
        backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
        return settings.WS_LOG_RELAY_SECONDS > 0 and backend.endswith("InMemoryChannelLayer")

    def joined(self, consumer) -> None:
        for group in consumer._scope_groups:
            # A group's first socket: the relay starts where its cursor is (what it has sent). A
            # later one needs nothing below the relay's cursor: it joined the group before reading
            # its own start, so what the relay published before that is below that start.
            self.cursors.setdefault(group, consumer.delivery.cursor)

    async def loop_body(self, loop) -> None:
        full = False
        while self.sockets:
            if not full:
                await asyncio.sleep(settings.WS_LOG_RELAY_SECONDS)
            watched = {g for consumer in self.sockets for g in consumer._scope_groups}
            self.cursors = {g: c for g, c in self.cursors.items() if g in watched}
            try:
                messages, moved, full = await database_sync_to_async(read_new_events)(dict(self.cursors))
                if messages:
                    await _publish_async(messages)
                self.cursors.update(moved)
            except Exception as exc:  # the database away: the sockets' own resume covers it
                full = False
                channels_log.warning("event log relay failed", extra={"error_type": type(exc).__name__})
