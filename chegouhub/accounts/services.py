"""What ends a user's access: logging out, a new password, deactivation (CONTRACT section 8).

A logout ends that one session: after commit, the ACCESS_REVOKED_HANDLERS (settings: the
real-time app's, which closes open sockets on every process) close the sockets opened with it.
The API tokens stay: the restockers and scripts that use them are not the browser that logged
out. A new password, a deactivation or a deletion revokes the user's API tokens and closes all of
their sockets. Accounts knows nothing of sockets: layers point down only.
"""

from __future__ import annotations

import hashlib

import logging

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token

log = logging.getLogger(__name__)


def session_hash(session_key: str) -> str:
    """A session key's fingerprint: what travels to other processes instead of the key itself."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def api_token_for(*, user_id: int) -> str:
    """The user's API token, created on first use."""
    token, _ = Token.objects.get_or_create(user_id=user_id)
    return token.key


def revoke_api_tokens(*, user_id: int) -> int:
    """Delete the user's API tokens; the number deleted."""
    deleted, _ = Token.objects.filter(user_id=user_id).delete()
    return deleted


def _announce(*, user_id: int, session_key: str | None, reason: str) -> None:
    """After commit, each handler gets `user_id` (whose access ended), `session_hash` (only the
    sockets of that one session, a logout; None: all of the user's) and `reason` (for the logs)."""
    digest = session_hash(session_key) if session_key else None
    transaction.on_commit(lambda user_id=user_id, digest=digest, reason=reason: _call_handlers(
        user_id=user_id, session_hash=digest, reason=reason))


def _call_handlers(**revocation) -> None:
    for path in settings.ACCESS_REVOKED_HANDLERS:
        try:
            import_string(path)(**revocation)
        except Exception as exc:  # a logout or a password change never fails for this
            log.warning("access revocation handler failed", extra={"handler": path, "error_type": type(exc).__name__})


def end_session(*, user_id: int, session_key: str | None) -> None:
    """A logout: the sockets opened with this session close.

    The user's API tokens stay valid (`POST /api/auth/token/revoke/` is how a token is revoked),
    and so do the user's other sessions (another browser) and their sockets; a new password or a
    deactivation ends them all. A caller without a session (a token) has no socket to close.
    """
    if session_key:
        _announce(user_id=user_id, session_key=session_key, reason="logout")


def end_all_access(*, user_id: int, reason: str) -> None:
    """A new password, a deactivation or a deletion: every token and every socket of the user."""
    revoke_api_tokens(user_id=user_id)
    _announce(user_id=user_id, session_key=None, reason=reason)
