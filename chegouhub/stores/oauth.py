"""The Shopify app install flow's pieces (authorization code grant, CONTRACT section 9).

- `new_state` / `take_state`: a random `state` bound to the user's session, single use, 10 minutes;
- `authorize_url`: Shopify's authorize page with `client_id`, `scope`, `redirect_uri`, `state`;
- `callback_hmac_ok`: the callback's `hmac` (hex HMAC-SHA256 of the other query parameters,
  sorted, `k=v` joined by `&`, keyed with the app's client secret), compared in constant time;
- `exchange_code`: the code for an access token at Shopify's token endpoint.

Every refusal is an `InstallRefused` whose text is a sentence for the merchant, never a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
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


def exchange_code(*, shop: str, code: str | None) -> str:
    """The access token for this install's code. Raises InstallRefused."""
    if not code:
        raise InstallRefused("A Shopify não enviou o código de autorização.", status=400)
    url = settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE.format(shop=shop)
    body = {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET, "code": code}
    try:
        response = httpx.post(url, json=body, headers={"Accept": "application/json"},
                              timeout=settings.SHOPIFY_HTTP_TIMEOUT)
    except httpx.HTTPError:
        raise InstallRefused("A Shopify não respondeu ao pedir o token de acesso; tente de novo.", status=502) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    token = data.get("access_token") if isinstance(data, dict) and response.status_code == 200 else None
    if not token:
        if response.status_code >= 500:
            raise InstallRefused("A Shopify está indisponível para concluir a instalação; tente de novo.", status=502)
        raise InstallRefused("A Shopify recusou o código de autorização (expirado ou já usado). Comece a conexão "
                             "da loja de novo.", status=400)
    register_secret(token)
    return str(token)
