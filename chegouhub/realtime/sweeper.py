"""Idle timeouts and group refreshes of a process's sockets: one task per event loop, not a timer per socket."""

from __future__ import annotations

import asyncio

from django.conf import settings

from chegouhub.common.logging import channels_log


class Sweeper:
    """Idle timeouts and group refreshes for every socket of one event loop, in one task.

    A timer per socket cost about half a kilobyte each and 10,000 entries in the loop's timer heap;
    one pass over the open sockets every few seconds costs milliseconds.
    """

    _by_loop: dict = {}

    def __init__(self):
        self.sockets: set = set()
        self.task: asyncio.Task | None = None

    @classmethod
    def watch(cls, consumer) -> None:
        loop = asyncio.get_running_loop()
        sweeper = cls._by_loop.get(loop)
        if sweeper is None:
            sweeper = cls._by_loop[loop] = cls()
        sweeper.sockets.add(consumer)
        if sweeper.task is None or sweeper.task.done():
            sweeper.task = loop.create_task(sweeper.run(loop))

    @classmethod
    def forget(cls, consumer) -> None:
        for sweeper in cls._by_loop.values():
            sweeper.sockets.discard(consumer)

    @staticmethod
    def interval() -> float:
        periods = [p for p in (settings.WS_IDLE_TIMEOUT_SECONDS, settings.WS_GROUP_REFRESH_SECONDS) if p > 0]
        return max(0.05, min([5.0] + [p / 4 for p in periods]))

    async def run(self, loop) -> None:
        try:
            while self.sockets:
                await asyncio.sleep(self.interval())
                now = loop.time()
                for consumer in list(self.sockets):
                    try:
                        consumer._check(now)
                    except Exception as exc:  # one socket's trouble must not stop the others' timeouts
                        self.sockets.discard(consumer)
                        channels_log.warning("websocket sweeper: socket check failed",
                                             extra={"error_type": type(exc).__name__})
        finally:
            if self.sockets:  # stopped early (loop shutting down): the next watch() starts another
                self.task = None
            else:
                type(self)._by_loop.pop(loop, None)
