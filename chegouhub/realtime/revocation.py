"""Sockets end with the access they were opened with (CONTRACT section 8).

A socket is authenticated once, at its handshake. Logging out, a new password, a deactivation
(chegouhub/accounts/services.py calls `close_user_sockets`, named in ACCESS_REVOKED_HANDLERS) must
close it anyway, within seconds, on every process:

- Every socket also joins its user's access group (`access.<user_id>`). A revocation is one
  group message (`access.revoked`, with the logged-out session's fingerprint, or none for all
  of the user's sockets) that every process holding one of those sockets receives; those sockets
  close with 4401 at once.
- The safety net, for a message lost (Redis briefly down, a change made with `QuerySet.update`,
  which sends no signal, a session deleted or expired): each process re-checks the sessions of its
  open sockets every WS_SESSION_CHECK_SECONDS, one database hop per distinct session, and closes
  the sockets whose session no longer authenticates an active user.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chegouhub.accounts.services import session_hash
from chegouhub.common.logging import channels_log

from .auth import authenticate_session

CLOSE_NOT_AUTHENTICATED = 4401
SEND_TIMEOUT_SECONDS = 2.0


def access_group(user_id: int) -> str:
    return f"access.{user_id}"


def close_user_sockets(*, user_id: int, session_hash: str | None, reason: str) -> bool:
    """Every process closes the user's sockets (only those of one session when `session_hash` is
    given) with 4401. Never raises: the periodic re-check is the net when the layer is down."""
    layer = get_channel_layer()
    if layer is None:
        return False
    message = {"type": "access.revoked", "session_hash": session_hash, "reason": reason}
    try:
        async_to_sync(_send)(layer, access_group(user_id), message)
    except Exception as exc:
        channels_log.warning("socket revocation not sent; the periodic session check will close them",
                             extra={"user_id": user_id, "reason": reason, "error_type": type(exc).__name__})
        return False
    channels_log.info("socket revocation sent", extra={"user_id": user_id, "reason": reason,
                                                        "scope": "session" if session_hash else "user"})
    return True


async def _send(layer, group: str, message: dict) -> None:
    await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)


class SessionBoundSocket:
    """Mixed into the consumers (ahead of ScopedEventConsumer, whose connect and teardown call
    `bind_session` / `unbind_session`): the socket remembers its session and closes when it is revoked."""

    _session_key: str | None = None

    def bind_session(self, session_key: str | None) -> None:
        """After the handshake authenticated `self.user_id`: join the access group, be re-checked."""
        self._session_key = session_key
        self._scope_groups = (*self._scope_groups, access_group(self.user_id))
        _SessionWatcher.watch(self)

    def unbind_session(self) -> None:
        _SessionWatcher.forget(self)

    async def access_revoked(self, message: dict) -> None:
        """`access.revoked` from the user's access group."""
        wanted = message.get("session_hash")
        if wanted is not None and (self._session_key is None or session_hash(self._session_key) != wanted):
            return  # another session of the same user logged out
        await self.close_revoked(message.get("reason") or "revoked")

    async def close_revoked(self, reason: str) -> None:
        if self._closing:
            return
        self._closing = True  # no event goes out from here on
        self.unbind_session()
        channels_log.info("websocket closed: access revoked",
                          extra={"socket": self.socket_name, "user_id": self.user_id, "reason": reason})
        await self.close(code=CLOSE_NOT_AUTHENTICATED)


class _SessionWatcher:
    """The periodic re-check of one event loop's sockets, grouped by session (one task per loop)."""

    _by_loop: dict = {}

    def __init__(self):
        self.sessions: dict[str, set] = {}
        self.task: asyncio.Task | None = None

    @classmethod
    def watch(cls, consumer) -> None:
        if settings.WS_SESSION_CHECK_SECONDS <= 0 or not consumer._session_key:
            return
        loop = asyncio.get_running_loop()
        watcher = cls._by_loop.get(loop)
        if watcher is None:
            watcher = cls._by_loop[loop] = cls()
        watcher.sessions.setdefault(consumer._session_key, set()).add(consumer)
        if watcher.task is None or watcher.task.done():
            watcher.task = loop.create_task(watcher.run(loop))

    @classmethod
    def forget(cls, consumer) -> None:
        key = consumer._session_key
        if not key:
            return
        for watcher in cls._by_loop.values():
            members = watcher.sessions.get(key)
            if members is not None:
                members.discard(consumer)
                if not members:
                    del watcher.sessions[key]

    async def run(self, loop) -> None:
        try:
            while self.sessions:
                await asyncio.sleep(settings.WS_SESSION_CHECK_SECONDS)
                try:
                    valid = await _valid_sessions({k: next(iter(v)).user_id for k, v in self.sessions.items() if v})
                except Exception as exc:  # database down: the sockets stay; the next round tries again
                    channels_log.warning("websocket session check failed", extra={"error_type": type(exc).__name__})
                    continue
                for key in [k for k in self.sessions if k not in valid]:
                    for consumer in list(self.sessions.get(key, ())):
                        loop.create_task(consumer.close_revoked("session_invalid"))
        finally:
            if self.sessions:
                self.task = None
            else:
                type(self)._by_loop.pop(loop, None)


@database_sync_to_async
def _valid_sessions(users_by_key: dict[str, int]) -> set[str]:
    """The session keys that still authenticate the same active user."""
    return {key for key, user_id in users_by_key.items() if authenticate_session(key) == user_id}
