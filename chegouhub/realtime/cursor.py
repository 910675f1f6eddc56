"""What a socket sends next: the delivery cursor and its gap logic, as a plain state machine.

No sockets, no clock, no database: the consumer (consumers.py) feeds it live events, log reads and
resumes, sends what it returns, in order, and keeps the timer and the log reads itself. Tested on
its own (tests/realtime/test_cursor.py).

- `cursor`: every event of the socket's scope with `floor < id <= cursor` has been sent, and
  nothing above `cursor` has. At connect both are the scope's newest id (read after joining the
  groups), so the socket delivers exactly what is committed after it opened.
- A live event is sent when it directly follows `cursor` (its `prev_id`, the previous event of
  the same scope, is <= cursor); one at or below `cursor` is a duplicate and dropped; one whose
  `prev_id` is beyond `cursor` reveals a gap (published out of order by two processes, or a
  publish lost while Redis was down). It is held: the missing ones usually arrive live within
  milliseconds, and then everything goes out in order without a database read; otherwise the
  consumer fills the gap from the log (`advance`) and the held ones follow. See events.py for why
  the log can be trusted here: within a scope, ids become visible in id order.
- `resume` N: the log's events in (N, floor] (never sent on this socket) come first, then what
  follows `cursor`. Sent as the socket's first message (or `?last_event_id=N` at connect) the
  client receives every event after N, in order, exactly once, then live ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeliveryCursor:
    cursor: int = 0
    floor: int = 0
    held: dict[int, tuple[dict, int | None]] | None = None  # only while a gap is open (rare)

    def start(self, last_id: int) -> None:
        self.cursor = self.floor = last_id

    @property
    def waiting(self) -> bool:
        """A gap is open: events are held until what comes before them arrives or is read."""
        return bool(self.held)

    def offer(self, event: dict, prev_id: int | None) -> list[dict]:
        """A live event: what to send now, in order (nothing for a duplicate or a held event)."""
        if event["id"] <= self.cursor:
            return []  # already sent (by a back-fill or a resume)
        if self.held is None and prev_id is not None and prev_id <= self.cursor:
            self.cursor = event["id"]  # the common case: it directly follows what was sent
            return [event]
        if self.held is None:
            self.held = {}
        self.held[event["id"]] = (event, prev_id)
        return self.release()

    def release(self) -> list[dict]:
        """The held events that now follow the cursor, in id order."""
        out: list[dict] = []
        for event_id in sorted(self.held or ()):
            event, prev_id = self.held[event_id]
            if event_id > self.cursor:
                if prev_id is None or prev_id > self.cursor:
                    return out  # still waiting for what comes before it
                self.cursor = event_id
                out.append(event)
            del self.held[event_id]
        self.held = None
        return out

    def advance(self, events: list[dict]) -> list[dict]:
        """Events read from the log after `cursor` (a back-fill), all to be sent."""
        if events:
            self.cursor = events[-1]["id"]
        return events

    def resume_before_floor(self, last_event_id: int) -> tuple[int, int] | None:
        """For a resume from N: the log range (after, upto] to send before anything else, or None.

        A client that has seen more than this socket sent (another socket, polling) moves the
        cursor forward instead: those are not sent again.
        """
        if last_event_id < self.floor:
            return last_event_id, self.floor
        if last_event_id > self.cursor:
            self.cursor = last_event_id
        return None

    def resumed_from(self, last_event_id: int) -> None:
        """The range below the floor was sent: the floor is now where the client started."""
        self.floor = min(self.floor, last_event_id)
