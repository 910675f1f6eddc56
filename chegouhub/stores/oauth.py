"""The Shopify app install flow's pieces (authorization code grant, CONTRACT section 9).

- `new_state` / `take_state`: a random `state` bound to the user's session, single use, 10 minutes;
- `authorize_url`: Shopify's authorize page with `client_id`, `scope`, `redirect_uri`, `state`;
- `callback_hmac_ok`: the callback's `hmac` (hex HMAC-SHA256 of the other query parameters,
  sorted, `k=v` joined by `&`, keyed with the app's client secret), compared in constant time;
- `exchange_code`: the code for an expiring offline token (`expiring=1`) and its refresh token;
- `refresh_access_token`: a new pair for the refresh token (`grant_type=refresh_token`); Shopify
  rotates the refresh token on use and keeps the previous one valid until the new one is used.

Every refusal is an `InstallRefused` whose text is a sentence for the merchant, never a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from django.conf import settings

from chegouhub.common.logging import register_secret

SESSION_KEY = "shopify_install_states"
STATE_TTL_SECONDS = 600
MAX_PENDING_STATES = 5
CALLBACK_MAX_AGE_SECONDS = 24 * 3600  # Shopify's `timestamp`: a replayed old callback is refused
SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class InstallRefused(Exception):
    """An install step refused; `message` is safe to show. `status` is the page's HTTP status."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def normalize_shop(value: str | None) -> str:
    shop = (value or "").strip().lower()
    if not SHOP_RE.fullmatch(shop):
        raise InstallRefused("O endereço da loja deve ser do tipo minha-loja.myshopify.com.", status=400)
    return shop


def app_configured() -> None:
    if not settings.SHOPIFY_API_KEY or not settings.SHOPIFY_API_SECRET:
        raise InstallRefused("O app da Shopify não está configurado neste servidor (SHOPIFY_API_KEY e "
                             "SHOPIFY_API_SECRET).", status=503)


def new_state(session, shop: str) -> str:
    """A fresh state for this session and shop (a few may be pending: several tabs)."""
    now = time.time()
    pending = {k: v for k, v in (session.get(SESSION_KEY) or {}).items() if now - v["at"] < STATE_TTL_SECONDS}
    state = secrets.token_urlsafe(32)
    pending[state] = {"shop": shop, "at": now}
    session[SESSION_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-MAX_PENDING_STATES:])
    return state


def take_state(session, state: str | None, shop: str) -> None:
    """Consume the state: it must be this session's, for this shop, fresh. Used once, whatever the outcome."""
    pending = dict(session.get(SESSION_KEY) or {})
    entry = None
    if state:
        for known in list(pending):
            if hmac.compare_digest(known, state):
                entry = pending.pop(known)
        session[SESSION_KEY] = pending
    if entry is None or entry["shop"] != shop or time.time() - entry["at"] > STATE_TTL_SECONDS:
        raise InstallRefused("Este pedido de instalação não foi iniciado nesta sessão, expirou ou já foi usado. "
                             "Comece a conexão da loja de novo.", status=403)


def authorize_url(*, shop: str, state: str, redirect_uri: str) -> str:
    query = urlencode({"client_id": settings.SHOPIFY_API_KEY, "scope": settings.SHOPIFY_SCOPES,
                       "redirect_uri": redirect_uri, "state": state})
    return f"{settings.SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE.format(shop=shop)}?{query}"


def callback_hmac_ok(params, secret: str) -> bool:
    """`params`: the callback's query (a QueryDict or dict of single values)."""
    given = params.get("hmac") or ""
    pairs = sorted((k, params.get(k)) for k in params.keys() if k not in ("hmac", "signature"))
    message = urlencode(pairs, safe="")  # Shopify's libraries sign the re-encoded sorted query
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower().encode("ascii", "replace").decode())


def check_timestamp(params) -> None:
    try:
        age = time.time() - int(params.get("timestamp") or "")
    except ValueError:
        age = None
    if age is None or age > CALLBACK_MAX_AGE_SECONDS or age < -300:
        raise InstallRefused("A resposta da Shopify está vencida; comece a conexão da loja de novo.", status=403)


@dataclass(frozen=True)
class TokenGrant:
    """What Shopify's token endpoint answered. Expiries in seconds; None: the token never expires
    (a non-expiring offline token, which has no refresh token either)."""

    access_token: str = field(repr=False)
    expires_in: int | None = None
    refresh_token: str = field(default="", repr=False)
    refresh_token_expires_in: int | None = None

    @classmethod
    def from_answer(cls, data: dict) -> TokenGrant | None:
        token = data.get("access_token")
        if not token or not isinstance(token, str):
            return None
        refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else ""
        for secret in (token, refresh):
            if secret:
                register_secret(secret)
        return cls(access_token=token, expires_in=_seconds(data.get("expires_in")), refresh_token=refresh or "",
                   refresh_token_expires_in=_seconds(data.get("refresh_token_expires_in")))


def _seconds(value) -> int | None:
    try:
        return max(int(value), 0) if value is not None else None
    except (TypeError, ValueError):
        return None


class RefreshRefused(Exception):
    """Shopify refused the refresh token (expired, revoked, app uninstalled): only a new install helps."""


class RefreshUnavailable(Exception):
    """The refresh could not be done now (network, Shopify down, our app misconfigured): try later."""


def _post_token_endpoint(shop: str, body: dict) -> tuple[int, dict]:
    url = settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE.format(shop=shop)
    response = httpx.post(url, json=body, headers={"Accept": "application/json"},
                          timeout=settings.SHOPIFY_HTTP_TIMEOUT)
    try:
        data = response.json()
    except ValueError:
        data = {}
    return response.status_code, data if isinstance(data, dict) else {}


def exchange_code(*, shop: str, code: str | None) -> TokenGrant:
    """The expiring offline token (and its refresh token) for this install's code. Raises InstallRefused."""
    if not code:
        raise InstallRefused("A Shopify não enviou o código de autorização.", status=400)
    body = {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET, "code": code,
            "expiring": 1}  # Shopify rejects public apps' non-expiring offline tokens from 2027-01-01
    try:
        status, data = _post_token_endpoint(shop, body)
    except httpx.HTTPError:
        raise InstallRefused("A Shopify não respondeu ao pedir o token de acesso; tente de novo.", status=502) from None
    grant = TokenGrant.from_answer(data) if status == 200 else None
    if grant is None:
        if status >= 500:
            raise InstallRefused("A Shopify está indisponível para concluir a instalação; tente de novo.", status=502)
        raise InstallRefused("A Shopify recusou o código de autorização (expirado ou já usado). Comece a conexão "
                             "da loja de novo.", status=400)
    return grant


def refresh_access_token(*, shop: str, refresh_token: str) -> TokenGrant:
    """A new access token and refresh token. Raises RefreshRefused or RefreshUnavailable."""
    body = {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET,
            "grant_type": "refresh_token", "refresh_token": refresh_token}
    try:
        status, data = _post_token_endpoint(shop, body)
    except httpx.HTTPError:
        raise RefreshUnavailable("A Shopify não respondeu ao renovar o token de acesso.") from None
    grant = TokenGrant.from_answer(data) if status == 200 else None
    if grant is not None:
        return grant
    if status >= 500 or status == 429 or status == 200:
        raise RefreshUnavailable(f"A Shopify não renovou o token de acesso (HTTP {status}).")
    if data.get("error") == "invalid_client":  # our app's credentials, not the loja's: reconnecting won't help
        raise RefreshUnavailable("A Shopify recusou as credenciais do app (SHOPIFY_API_KEY/SHOPIFY_API_SECRET).")
    raise RefreshRefused("A Shopify recusou o refresh token da loja (app desinstalado, acesso revogado ou "
                         "refresh token vencido).")
