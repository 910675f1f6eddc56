"""Idle timeouts and group refreshes of a process's sockets: one task per event loop, not a timer per socket."""

from __future__ import annotations

import asyncio

from django.conf import settings

from chegouhub.common.logging import channels_log


class PerLoopTask:
    """One task per event loop serving every socket of that loop, alive while it has sockets.

    Subclasses set `enabled()`, `joined(consumer)` (a socket was added) and `loop_body(loop)`
    (the task's work, returning when `self.sockets` is empty).
    """

    _by_loop: dict  # each subclass its own

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._by_loop = {}

    def __init__(self):
        self.sockets: set = set()
        self.task: asyncio.Task | None = None

    @classmethod
    def enabled(cls) -> bool:
        return True

    def joined(self, consumer) -> None:
        pass

    @classmethod
    def watch(cls, consumer) -> None:
        if not cls.enabled():
            return
        loop = asyncio.get_running_loop()
        this = cls._by_loop.get(loop)
        if this is None:
            this = cls._by_loop[loop] = cls()
        this.sockets.add(consumer)
        this.joined(consumer)
        if this.task is None or this.task.done():
            this.task = loop.create_task(this.run(loop))

    @classmethod
    def forget(cls, consumer) -> None:
        for this in cls._by_loop.values():
            this.sockets.discard(consumer)

    async def run(self, loop) -> None:
        try:
            await self.loop_body(loop)
        finally:
            if self.sockets:  # stopped early (loop shutting down): the next watch() starts another
                self.task = None
            else:
                type(self)._by_loop.pop(loop, None)

    async def loop_body(self, loop) -> None:
        raise NotImplementedError


class Sweeper(PerLoopTask):
    """Idle timeouts and group refreshes for every socket of one event loop, in one task.

    A timer per socket cost about half a kilobyte each and 10,000 entries in the loop's timer heap;
    one pass over the open sockets every few seconds costs milliseconds.
    """

    @staticmethod
    def interval() -> float:
        periods = [p for p in (settings.WS_IDLE_TIMEOUT_SECONDS, settings.WS_GROUP_REFRESH_SECONDS) if p > 0]
        return max(0.05, min([5.0] + [p / 4 for p in periods]))

    async def loop_body(self, loop) -> None:
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
