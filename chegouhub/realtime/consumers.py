"""The two sockets of CONTRACT section 5: `/ws/estoque/?loja_id=<id>` and `/ws/notifications/`.

Consumers only authorize, manage groups and route messages; the event log is read through
`database_sync_to_async` selectors. Which event goes out next is decided by the socket's
`DeliveryCursor` (cursor.py: the cursor, gaps and resume, a plain state machine); idle timeouts
and group refreshes by one sweeper per event loop (sweeper.py). Per socket the state is a handful
of ints and one timer handle, so a process can hold many thousands of them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from urllib.parse import parse_qs

import orjson
from channels.consumer import get_handler_name
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from chegouhub.common import jsonparse
from chegouhub.common.logging import channels_log
from chegouhub.stores.models import Loja

from . import metrics
from .auth import authenticate_session
from .cursor import DeliveryCursor
from .events import deposito_group, serialize_event, user_group
from .models import Stream
from .relay import LogRelay
from .revocation import SessionBoundSocket
from .selectors import scope_events, scope_last_id
from .sweeper import Sweeper

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_IDLE = 4408
CLOSE_SERVICE_RESTART = 1012  # the scope changed (a loja moved depósito): the client reconnects
CLOSE_BAD_REQUEST = 4400  # missing or malformed loja_id (not in the contract's table; documented)
# Application codes (4000-4999) rather than RFC 6455's 1009/1011: daphne (autobahn) may only send
# 1000 or 3000-4999, and these must reach the client whatever the ASGI server.
CLOSE_TOO_BIG = 4413  # a client frame over WS_MAX_CLIENT_FRAME_BYTES (like HTTP 413)
CLOSE_UNAVAILABLE = 4503  # channel layer or database unreachable; reconnect later (like HTTP 503)

BACKFILL_BATCH = 500


def _encode(payload: dict) -> str:
    # orjson: compact UTF-8 JSON, as json.dumps(separators=(",", ":"), ensure_ascii=False) writes
    # it, in a tenth of the time; a broadcast encodes each event once per process.
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # What orjson refuses (integers beyond 64 bits, lone surrogates):
        # json writes it, escaped to ASCII, so the event still reaches the socket.
        return json.dumps(payload, separators=(",", ":"), default=str)


_encoded: dict[int, tuple[dict, str]] = {}
_ENCODED_MAX = 256


def encode_event(event: dict) -> str:
    """An event's JSON text, encoded once per process for all the sockets it goes to.

    The fan-out layer (layers.py) hands every member socket the same decoded dict, so the cache
    is keyed on the object itself (the entry holds it, so its id cannot be reused meanwhile).
    """
    hit = _encoded.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    text = _encode(event)
    if len(_encoded) >= _ENCODED_MAX:
        _encoded.clear()
    _encoded[id(event)] = (event, text)
    return text


def control_message(type_: str, data: dict | None = None, priority: str = "normal") -> dict:
    """A server message that is not an event: same envelope, `id` null (it is no resume cursor)."""
    return {"type": type_, "data": data or {}, "id": None, "timestamp": timezone.now().isoformat(),
            "priority": priority}


def _query_int(scope, name: str) -> int | None | bool:
    """The query parameter as a non-negative int; None when absent; False when malformed."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    if not values:
        return None
    value = values[0].strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return False
    return int(value)


class ScopedEventConsumer(AsyncWebsocketConsumer):
    """One scope of the event log (a loja's stock stream, or a user's notifications) over a socket."""

    stream: str = ""
    socket_name: str = ""

    # Per-socket state (kept small on purpose).
    user_id: int | None = None
    loja_id: int | None = None
    _scope_groups: tuple[str, ...] = ()
    _counted = False
    _task: asyncio.Task | None = None
    # Only while a gap is open (rare): the timer and the log read.
    _gap_timer: asyncio.TimerHandle | None = None
    _fill_task: asyncio.Task | None = None
    _closing = False
    _last_seen = 0.0
    _refresh_at = 0.0
    _opened_at = 0.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()  # see "events" below
        self.delivery = DeliveryCursor()

    # --- handshake ----------------------------------------------------------------------------

    def requested_loja(self) -> int | None | bool:
        """The loja the socket asks for: an int, None when the stream has none, False when malformed."""
        return None

    def authorize(self, loja_id: int | None | bool, owns_loja: bool) -> int | None:
        """Set the scope (loja_id, groups) for an authenticated user; return a close code to refuse, or None."""
        raise NotImplementedError

    async def connect(self):
        loja_id = self.requested_loja()
        # One database hop for the session, the user and the loja; the key leaves the scope with it.
        # The key is taken out of its one-slot holder, which every copy of the scope shares.
        holder = self.scope.get("session_key") or []
        session_key = holder.pop() if holder else None
        self.user_id, owns = await _socket_access(session_key, loja_id or None)  # owns: the loja's depósito
        if self.user_id is None:
            return await self._refuse(CLOSE_NOT_AUTHENTICATED, "not authenticated")
        code = self.authorize(loja_id, owns)
        if code is not None:
            return await self._refuse(code, "forbidden" if code == CLOSE_FORBIDDEN else "bad request")
        self.bind_session(session_key)  # closed (4401) when this session or user loses access (revocation.py)
        resume_from = _query_int(self.scope, "last_event_id")
        try:
            for group in self._scope_groups:
                await self.channel_layer.group_add(group, self.channel_name)
            # After joining: whatever commits from here on reaches this socket live or by gap fill.
            self.delivery.start(await self._last_id())
        except Exception as exc:
            channels_log.warning(
                "websocket refused: channel layer or database unavailable",
                extra={"socket": self.socket_name, "user_id": self.user_id, "error_type": type(exc).__name__},
            )
            await self.accept()
            await self.close(code=CLOSE_UNAVAILABLE)
            return
        await self.accept()
        self._counted = True
        metrics.OPEN_WEBSOCKETS.inc()
        self._opened_at = time.monotonic()
        channels_log.info(
            "websocket connected",
            extra={"socket": self.socket_name, "user_id": self.user_id, "loja_id": self.loja_id,
                   "auth": "query" if self.scope.get("session_from_query") else "cookie"},
        )
        await self._send(control_message("connection_established",
                                         {"loja_id": self.loja_id} if self.stream == Stream.ESTOQUE else {}))
        self._start_timer()
        if resume_from is False:
            await self._error('"last_event_id" deve ser um inteiro >= 0.')
        elif resume_from is not None:
            async with self._lock:
                await self._resume(resume_from)

    async def _refuse(self, code: int, reason: str) -> None:
        # Accept first: a close before accept is a bare HTTP 403 and the client never sees the code.
        channels_log.info("websocket refused", extra={"socket": self.socket_name, "code": code, "reason": reason,
                                                      "user_id": self.user_id})
        await self.accept()
        await self.close(code=code)

    async def dispatch(self, message):
        """Route a message to its handler, without Channels' per-message `aclose_old_connections`.

        Channels (4.2+) hops to the sync thread for `close_old_connections` before every handler
        call: one thread hop per socket per event, through a single thread, which made one event
        to 10,000 sockets take seconds (docs/benchmark.md). This consumer touches the database
        only through `database_sync_to_async`, which already closes stale connections around
        each call, so the hop buys nothing here.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- client → server ----------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        limit = settings.WS_MAX_CLIENT_FRAME_BYTES
        size = len(text_data) if text_data is not None else len(bytes_data or b"")
        if size > limit or (text_data is not None and len(text_data.encode("utf-8")) > limit):
            channels_log.warning("websocket closed: client frame too big",
                                 extra={"socket": self.socket_name, "user_id": self.user_id, "bytes": size})
            await self.close(code=CLOSE_TOO_BIG)
            return
        self._last_seen = asyncio.get_running_loop().time()
        if text_data is None:
            return await self._error("Envie mensagens JSON em frames de texto.")
        try:
            message = jsonparse.loads(text_data)
        except jsonparse.JSONTooDeep:
            return await self._error(f"Mensagem com mais de {jsonparse.MAX_DEPTH} níveis de aninhamento.")
        except ValueError:
            return await self._error("Mensagem não é JSON válido.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return await self._error('A mensagem deve ser um objeto JSON com "type".')
        kind = message["type"]
        if kind == "ping":
            return await self._send(control_message("pong"))
        if kind == "resume":
            last = message.get("last_event_id")
            if isinstance(last, bool) or not isinstance(last, int) or last < 0:
                return await self._error('"last_event_id" deve ser um inteiro >= 0.')
            async with self._lock:
                return await self._resume(last)
        await self._error(f"Tipo de mensagem desconhecido: {kind[:40]!r}.")

    async def _error(self, erro: str) -> None:
        await self._send(control_message("error", {"erro": erro}))

    # --- events -------------------------------------------------------------------------------

    async def event_message(self, message):
        """A live event from the channel layer (type `event.message`)."""
        async with self._lock:
            await self._deliver(message["event"], message.get("prev_id"))

    async def event_batch(self, message):
        """A transaction's events for this socket's group, in id order (type `event.batch`)."""
        async with self._lock:
            for event, prev_id in zip(message["events"], message["prev_ids"]):
                await self._deliver(event, prev_id)

    # Everything that sends events (live delivery, resume, a gap fill from the timer) runs under
    # `self._lock`, so sends never interleave and the cursor only moves forward in order.

    async def _deliver(self, event: dict, prev_id: int | None) -> None:
        if self._closing:
            return  # the socket is going away
        for ready in self.delivery.offer(event, prev_id):
            await self.send(text_data=encode_event(ready))
        self._watch_gap()

    def _watch_gap(self) -> None:
        """A gap open: wait WS_GAP_WAIT_SECONDS for it to close live, then read the log; none: no timer."""
        if not self.delivery.waiting:
            if self._gap_timer is not None:
                self._gap_timer.cancel()
                self._gap_timer = None
        elif self._gap_timer is None and not self._closing:
            self._gap_timer = asyncio.get_running_loop().call_later(settings.WS_GAP_WAIT_SECONDS, self._gap_expired)

    def _gap_expired(self) -> None:
        self._gap_timer = None
        self._fill_task = asyncio.get_running_loop().create_task(self._fill_gap())

    async def _fill_gap(self) -> None:
        """The missing events did not arrive live: read them from the log, then the held ones follow."""
        async with self._lock:
            if not self.delivery.waiting or self._closing:
                return  # resolved meanwhile (live, or by a resume)
            try:
                await self._backfill()
            except Exception as exc:  # the database went away: the client reconnects and resumes
                channels_log.warning("websocket closed: gap fill failed",
                                     extra={"socket": self.socket_name, "error_type": type(exc).__name__})
                self._closing, self.delivery.held = True, None
                await self.close(code=CLOSE_UNAVAILABLE)
                return
            await self._release_held()

    async def _release_held(self) -> None:
        for ready in self.delivery.release():
            await self.send(text_data=encode_event(ready))
        self._watch_gap()

    async def _resume(self, last_event_id: int) -> None:
        """Callers hold `self._lock`."""
        below = self.delivery.resume_before_floor(last_event_id)
        if below is not None:
            after, upto = below
            while True:
                batch = await self._fetch(after, upto=upto)
                for event in batch:
                    await self._send(event)
                if len(batch) < BACKFILL_BATCH:
                    break
                after = batch[-1]["id"]
            self.delivery.resumed_from(last_event_id)
        await self._backfill()
        await self._release_held()

    async def _backfill(self) -> None:
        """Send what the log has after the cursor, in order."""
        while True:
            batch = self.delivery.advance(await self._fetch(self.delivery.cursor))
            for event in batch:
                await self._send(event)
            if len(batch) < BACKFILL_BATCH:
                return

    async def _fetch(self, after: int, upto: int | None = None) -> list[dict]:
        return await _fetch_events(self.user_id, self.stream, self.loja_id, after, upto)

    async def _last_id(self) -> int:
        return await _last_event_id(self.user_id, self.stream, self.loja_id)

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=_encode(payload))

    # --- idle timeout and group refresh: one sweeper per process, not a timer per socket ---------

    def _start_timer(self) -> None:
        now = asyncio.get_running_loop().time()
        self._last_seen = now
        # The first refresh is jittered, so sockets opened together (a deploy, a benchmark) do not
        # all re-join their groups in the same second an interval later.
        self._refresh_at = now + settings.WS_GROUP_REFRESH_SECONDS * (0.5 + random.random() / 2)
        Sweeper.watch(self)
        LogRelay.watch(self)

    def _check(self, now: float) -> None:
        """Called by the sweeper: close an idle socket, or re-join the groups when due."""
        if self._task is not None and not self._task.done():
            return
        idle = settings.WS_IDLE_TIMEOUT_SECONDS
        if idle > 0 and now >= self._last_seen + idle:
            Sweeper.forget(self)
            LogRelay.forget(self)
            self._task = asyncio.get_running_loop().create_task(self._close_idle())
        elif settings.WS_GROUP_REFRESH_SECONDS > 0 and now >= self._refresh_at:
            self._refresh_at = now + settings.WS_GROUP_REFRESH_SECONDS
            self._task = asyncio.get_running_loop().create_task(self._refresh_groups())

    async def _close_idle(self) -> None:
        channels_log.info("websocket idle timeout", extra={"socket": self.socket_name, "user_id": self.user_id})
        await self.close(code=CLOSE_IDLE)

    async def _refresh_groups(self) -> None:
        """Re-join the groups so their membership (group_expiry) never lapses on a long-lived socket."""
        try:
            for group in self._scope_groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:
            channels_log.warning("websocket group refresh failed",
                                 extra={"socket": self.socket_name, "error_type": type(exc).__name__})

    # --- teardown -----------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        """Run the consumer; if what it stands on fails (Redis down, database down), close with 4503 cleanly."""
        try:
            await self._consume(scope, receive, send)
        except Exception as exc:
            # channels' receive loop raises when Redis goes away: the socket cannot get live events
            # any more. The client reconnects and resumes; nothing is lost (the log has it all).
            channels_log.warning(
                "websocket closed on a server-side failure (channel layer or database)",
                extra={"socket": self.socket_name, "user_id": self.user_id, "error_type": type(exc).__name__},
            )
            try:
                await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE})
            except Exception:
                pass
            await self._teardown(CLOSE_UNAVAILABLE)
        finally:
            # Also when cancelled from outside (the server stopping), even mid-close: the socket
            # leaves the sweeper and the open-sockets gauge, or both would count it forever.
            # (A second call does nothing.)
            await self._teardown(None)

    async def _consume(self, scope, receive, send):
        """Channels' `AsyncConsumer.__call__`, reading the fan-out layer's inbox directly.

        Channels waits on the client and the channel layer with `asyncio.wait` and a new task per
        message: four event-loop steps per socket per event. On the fan-out layer this consumer
        waits on the socket's inbox itself; a broadcast then costs one step per socket.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        try:
            if self.channel_layer is None:
                await await_many_dispatch([receive], self.dispatch)
                return
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            mailbox = getattr(self.channel_layer, "mailbox", None)
            inbox = mailbox(self.channel_name) if mailbox is not None else None
            if inbox is None:  # another layer (in-memory, Redis lists, stock pub/sub)
                await await_many_dispatch([receive, self.channel_receive], self.dispatch)
            else:
                await self._serve(receive, inbox)
        except StopConsumer:
            pass

    async def _serve(self, receive, inbox) -> None:
        client = asyncio.ensure_future(receive())
        client.add_done_callback(inbox.wake)
        try:
            while True:
                if client.done():
                    # As Channels does: the frame is handled before the next one is asked for
                    # (a disconnect ends the loop here), and then one event is let through, so a
                    # client that never pauses cannot hold its own events back.
                    await self.dispatch(client.result())
                    client = asyncio.ensure_future(receive())
                    client.add_done_callback(inbox.wake)
                    if not inbox.empty():
                        await self.dispatch(inbox.pop())
                elif not inbox.empty():
                    await self.dispatch(inbox.pop())
                else:
                    await inbox.wait()
        finally:
            client.cancel()
            self.channel_layer.forget(self.channel_name)

    async def websocket_disconnect(self, message):
        for group in self._scope_groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                pass  # membership expires on its own (group_expiry)
        await self._teardown(message.get("code"))
        raise StopConsumer()

    async def _teardown(self, code) -> None:
        self._closing = True
        Sweeper.forget(self)
        LogRelay.forget(self)
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        for task in (self._task, self._fill_task):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
        self.unbind_session()
        if self._counted:
            self._counted = False
            metrics.OPEN_WEBSOCKETS.dec()
            channels_log.info(
                "websocket disconnected",
                extra={"socket": self.socket_name, "user_id": self.user_id, "loja_id": self.loja_id,
                       "code": code, "seconds": round(time.monotonic() - self._opened_at, 1)},
            )


class EstoqueConsumer(SessionBoundSocket, ScopedEventConsumer):
    """`/ws/estoque/?loja_id=<id>`: one loja's stock events, for its owner."""

    stream = Stream.ESTOQUE
    socket_name = "estoque"

    def requested_loja(self) -> int | None | bool:
        return _query_int(self.scope, "loja_id")

    def authorize(self, loja_id: int | None | bool, owns_loja: int | None) -> int | None:
        if not loja_id:
            return CLOSE_BAD_REQUEST
        if not owns_loja:
            return CLOSE_FORBIDDEN
        self.loja_id = loja_id
        # A loja's socket receives its depósito's stock events (CONTRACT 10): one group per depósito.
        self._scope_groups = (deposito_group(owns_loja),)
        return None

    async def deposito_moved(self, message: dict) -> None:
        """The loja moved to another depósito (stocksync/depositos.py): reconnect to follow it."""
        if message.get("loja_id") == self.loja_id:
            await self.close(code=CLOSE_SERVICE_RESTART)


class NotificationsConsumer(SessionBoundSocket, ScopedEventConsumer):
    """`/ws/notifications/`: the user's notifications."""

    stream = Stream.NOTIFICATIONS
    socket_name = "notifications"

    def authorize(self, loja_id: int | None | bool, owns_loja: bool) -> int | None:
        self._scope_groups = (user_group(self.user_id),)
        return None


@database_sync_to_async
def _socket_access(session_key: str | None, loja_id: int | None) -> tuple[int | None, int | None]:
    """(the session's active user id or None, the depósito of `loja_id` if that user owns it)."""
    user_id = authenticate_session(session_key)
    if user_id is None or loja_id is None:
        return user_id, None
    return user_id, Loja.objects.filter(pk=loja_id, owner_id=user_id).values_list("deposito_id", flat=True).first()


@database_sync_to_async
def _fetch_events(user_id: int, stream: str, loja_id: int | None, after: int, upto: int | None) -> list[dict]:
    events = scope_events(user_id=user_id, stream=stream, loja_id=loja_id, after=after, upto=upto,
                          limit=BACKFILL_BATCH)
    return [serialize_event(e) for e in events]


@database_sync_to_async
def _last_event_id(user_id: int, stream: str, loja_id: int | None) -> int:
    return scope_last_id(user_id=user_id, stream=stream, loja_id=loja_id)
