"""The WebSocket handshake's guards: origin check, then authentication (CONTRACT sections 1 and 5).

`websocket_auth_stack(app)` = OriginValidator → SessionKeyMiddleware; the consumer then resolves the
session key to a user with `authenticate_session`, in the same database hop as its other checks.

- Origin: a browser page may open a socket only from the project's own origin (the `Origin`
  equals the `Host` the socket was opened on, or its host is one of the explicit ALLOWED_HOSTS on
  that same port) or from an origin in CORS_ALLOWED_ORIGINS. Anything else is refused at the
  handshake (HTTP 403). A client that sends no `Origin` is not a browser page (browsers always send
  it on WebSocket handshakes) and is judged by its authentication alone. channels' own
  AllowedHostsOriginValidator would refuse it and knows nothing of CORS_ALLOWED_ORIGINS.
- Session: the Django session cookie, or `?session_key=<key>` (the existing frontend's way). When
  the query parameter is present it is the credential, and it is removed from the scope's query
  string so no later code (logs, error reports) can see it.
- Why not channels' CookieMiddleware/SessionMiddleware/AuthMiddleware: they cost a database hop
  each at connect, keep a lazy session and user object in the scope for the socket's whole life
  (memory on 10,000 sockets), and wrap every frame the server sends in a session-save check that
  was half the cost of a broadcast (docs/benchmark.md). A socket needs the user's id once.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from chegouhub.common.logging import channels_log

SESSION_KEY_PARAM = "session_key"
_MAX_SESSION_KEY_LENGTH = 64
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _normalize_origin(origin: str) -> tuple[str, str, str] | None:
    """(scheme, host, port) of an Origin / allowed-origin string, or None if it is not one."""
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal, spelled as in a Host header
    return scheme, host.lower(), str(port) if port else _DEFAULT_PORTS.get(scheme, "")


def origin_allowed(origin: str, host_header: str | None) -> bool:
    """Is a browser page at `origin` allowed to open a socket on this server (reached as `host_header`)?"""
    parsed = _normalize_origin(origin)
    if parsed is None:
        return False
    scheme, host, port = parsed
    for allowed in settings.CORS_ALLOWED_ORIGINS:
        if _normalize_origin(allowed) == parsed:
            return True
    if not host_header:
        return False
    req_host, req_port = split_domain_port(host_header.lower())
    if not req_host or not validate_host(req_host, settings.ALLOWED_HOSTS):
        return False
    # The socket was opened on req_host:req_port; when the Host header has no port it is the
    # default one of the page's scheme (what the browser would have left out).
    req_port = req_port or _DEFAULT_PORTS.get(scheme, "")
    if port != req_port:
        return False
    if host == req_host:
        return True
    # Another name of this same deployment, listed explicitly (a wildcard "*" never counts here).
    explicit = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    return validate_host(host, explicit)


class OriginValidator:
    """Refuse cross-origin browser sockets at the handshake (403); let Origin-less clients through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and not origin_allowed(origin, _header(scope, b"host")):
                channels_log.warning(
                    "websocket refused: origin not allowed", extra={"origin": origin[:200], "path": scope.get("path")}
                )
                message = await receive()
                if message["type"] == "websocket.connect":
                    # A close before accept is answered by the server with HTTP 403.
                    await send({"type": "websocket.close"})
                return
        return await self.app(scope, receive, send)


class SessionKeyMiddleware:
    """Hand the socket's session key to the consumer: the `session_key` query parameter, else the cookie.

    The query parameter is stripped from the scope's query string, so no later code (logs, error
    reports) can see it; `scope["session_from_query"]` says which one was used. No database here.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        raw = scope.get("query_string", b"").decode("latin-1")
        # In place rather than a copy: the scope lives as long as the socket (memory per socket).
        key = None
        if SESSION_KEY_PARAM in raw:
            pairs = parse_qsl(raw, keep_blank_values=True)
            key = next((v for k, v in pairs if k == SESSION_KEY_PARAM), None)
            scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != SESSION_KEY_PARAM]).encode("latin-1")
        scope["session_from_query"] = key is not None
        if key is None:
            cookie = _header(scope, b"cookie")
            key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME) if cookie else None
        # An over-long or empty value is no session: it becomes an anonymous socket (4401). A one-slot
        # holder shared by every later copy of the scope: the consumer takes the key out of it.
        scope["session_key"] = [key] if key and len(key) <= _MAX_SESSION_KEY_LENGTH else []
        return await self.app(scope, receive, send)


def authenticate_session(session_key: str | None) -> int | None:
    """The id of the active user the Django session belongs to, or None (sync; the database).

    Django's own `auth.get_user` on the session: the same backend check, session-hash verification
    (a password change logs sockets out as it logs pages out) and inactive-user refusal as a page.
    """
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user.pk if user.is_authenticated and user.is_active else None


def websocket_auth_stack(app):
    return OriginValidator(SessionKeyMiddleware(app))
