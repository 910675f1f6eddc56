"""Sockets end with the access they were opened with (CONTRACT section 8).

A socket is authenticated once, at its handshake. Logging out, a new password, a deactivation
(chegouhub/accounts/services.py calls `close_user_sockets`, named in ACCESS_REVOKED_HANDLERS) must
close it anyway, within 5 seconds, on every process:

- Every socket also joins its user's access group (`access.<user_id>`). A revocation is one
  group message (`access.revoked`, with the logged-out session's fingerprint, or none for all
  of the user's sockets) that every process holding one of those sockets receives; those sockets
  close with 4401 at once.
- The check, for what sends no message (a `QuerySet.update` or SQL that deactivates a user or
  changes a password, a message lost while Redis was away): every WS_ACCESS_CHECK_SECONDS (2 s)
  each process reads the password hash of its sockets' users that are still active (one query per
  500 users), and closes the sockets whose user is gone, inactive or has another password than
  when the socket was first checked. Why a poll rather than a database trigger with LISTEN/NOTIFY:
  it works the same on PostgreSQL and SQLite, needs no migration nor a listening connection per
  process, and a primary-key query every 2 s is cheap next to the sockets' own traffic.
- Sessions deleted or expired (no password or user change): the sessions of the open sockets
  are re-checked with Django's own `auth.get_user` once when a socket is first checked and then
  every WS_SESSION_CHECK_SECONDS (one database hop per distinct session).
"""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model

from chegouhub.accounts.services import session_hash
from chegouhub.common.logging import channels_log

from .auth import authenticate_session
from .sweeper import PerLoopTask

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
    # The user's password hash (a hash of it) when the access check first confirmed this socket's
    # session; None until then.
    _access_seen: int | None = None

    def bind_session(self, session_key: str | None) -> None:
        """After the handshake authenticated `self.user_id`: join the access group, be re-checked."""
        self._session_key = session_key
        self._scope_groups = (*self._scope_groups, access_group(self.user_id))
        if session_key:
            _AccessWatcher.watch(self)

    def unbind_session(self) -> None:
        _AccessWatcher.forget(self)

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


class _AccessWatcher(PerLoopTask):
    """The periodic access check of one event loop's sockets (one task per loop, see the module doc)."""

    @classmethod
    def enabled(cls) -> bool:
        return settings.WS_ACCESS_CHECK_SECONDS > 0 or settings.WS_SESSION_CHECK_SECONDS > 0

    async def loop_body(self, loop) -> None:
        fast, full = settings.WS_ACCESS_CHECK_SECONDS, settings.WS_SESSION_CHECK_SECONDS
        interval = fast if fast > 0 else full
        # Every session is re-checked once in this many rounds (never when full is 0).
        full_every = max(1, round(full / interval)) if full > 0 else 0
        rounds = 0
        while self.sockets:
            await asyncio.sleep(interval)
            rounds += 1
            sockets = [c for c in self.sockets if not c._closing]
            all_sessions = bool(full_every) and rounds % full_every == 0
            # New sockets' sessions always; every session on a full round.
            sessions = {c._session_key: c.user_id for c in sockets if all_sessions or c._access_seen is None}
            try:
                seen, valid = await _read_access({c.user_id for c in sockets}, sessions)
            except Exception as exc:  # database down: the sockets stay; the next round tries again
                channels_log.warning("websocket access check failed", extra={"error_type": type(exc).__name__})
                continue
            for consumer in sockets:
                now = seen.get(consumer.user_id)  # None: the user is gone or inactive
                revoked = now is None or (consumer._access_seen is not None and now != consumer._access_seen)
                if not revoked and consumer._session_key in sessions:
                    revoked = consumer._session_key not in valid
                if revoked:
                    loop.create_task(consumer.close_revoked("access_changed"))
                else:
                    consumer._access_seen = now


_USERS_PER_QUERY = 500


@database_sync_to_async
def _read_access(user_ids: set[int], sessions: dict[str, int]) -> tuple[dict[int, int], set[str]]:
    """({active user id: hash of their password hash}, the session keys of `sessions` that still
    authenticate the same active user).

    The users are read first: a change made between the two reads makes the session invalid now
    or differ from what was read at the next round, never slips through.
    """
    ids = sorted(user_ids)
    seen: dict[int, int] = {}
    users = get_user_model().objects.filter(is_active=True)
    for start in range(0, len(ids), _USERS_PER_QUERY):
        for pk, password in users.filter(pk__in=ids[start:start + _USERS_PER_QUERY]).values_list("pk", "password"):
            seen[pk] = hash(password)  # compared within this process only
    valid = {key for key, user_id in sessions.items() if authenticate_session(key) == user_id}
    return seen, valid
