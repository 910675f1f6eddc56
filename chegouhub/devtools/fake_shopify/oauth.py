"""The fake Shopify's app install flow (authorization code grant), as Shopify speaks it:

  GET  /{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state   the merchant's consent page
  POST /{shop}/admin/oauth/authorize/confirm                              "Instalar app": redirects to
       redirect_uri?code&hmac&host&shop&state&timestamp (hmac: hex HMAC-SHA256 of the other
       parameters, sorted, joined as k=v&k=v, keyed with the app's client secret)
  POST /{shop}/admin/oauth/access_token {client_id, client_secret, code}  -> {"access_token","scope"}
       with "expiring": 1 -> also "expires_in", "refresh_token", "refresh_token_expires_in"
  POST /{shop}/admin/oauth/access_token {client_id, client_secret, grant_type: "refresh_token",
       refresh_token} -> a new pair (the same fields); 400 {"error": "invalid_grant"} when refused

Apps are registered through the control API (POST /_fake/apps {"client_id","client_secret",
["token_lifetime","refresh_token_lifetime","refresh_delay"]} in seconds: Shopify's are an hour and 90 days). A code
is single use and expires after 10 minutes; the token it buys becomes the shop's token (the shop is
created on first install), so the Admin API then answers to it. An expiring token answers 401 once
its lifetime is over. Refresh tokens rotate: the one used stays valid until its replacement is used
(Shopify's rule, so a lost refresh answer is survivable), and an uninstall (POST
/_fake/shops/{shop}/uninstall) makes every token and refresh token of the shop invalid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

CODE_TTL_SECONDS = 600
TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600


@dataclass
class App:
    client_id: str
    client_secret: str
    token_lifetime: float = TOKEN_LIFETIME
    refresh_token_lifetime: float = REFRESH_TOKEN_LIFETIME
    refresh_delay: float = 0.0  # seconds a refresh answer takes (tests widen the window two refreshes could race in)


@dataclass
class Grant:
    code: str
    shop: str
    client_id: str
    scope: str
    issued: float
    used: bool = False


def callback_hmac(params: dict[str, str], secret: str) -> str:
    message = urlencode(sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature")), safe="")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _page(status: int, title: str, body: str):
    from .state import Reply

    text = (f"<!doctype html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"</head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return Reply(status, text, {"content-type": "text/html; charset=utf-8"})


def _error(status: int, error: str, description: str):
    from .state import Reply

    return Reply(status, {"error": error, "error_description": description})


class OAuthMixin:
    """Mixed into FakeShopify: apps, grants and the three OAuth routes."""

    apps: dict[str, App]
    grants: dict[str, Grant]

    def add_app(self, client_id: str, client_secret: str, *, token_lifetime: float | None = None,
                refresh_token_lifetime: float | None = None, refresh_delay: float | None = None) -> App:
        app = App(client_id=client_id, client_secret=client_secret,
                  token_lifetime=float(token_lifetime or TOKEN_LIFETIME),
                  refresh_token_lifetime=float(refresh_token_lifetime or REFRESH_TOKEN_LIFETIME),
                  refresh_delay=float(refresh_delay or 0.0))
        self.apps[client_id] = app
        return app

    def uninstall(self, shop) -> None:
        """The merchant uninstalled the app: no token of it works, no refresh is accepted."""
        shop.token = ""
        shop.expiring_tokens.clear()
        shop.refresh_tokens.clear()

    def handle_oauth(self, *, shop_domain: str, action: str, method: str, query: str, body: bytes,
                     content_type: str):
        shop_domain = shop_domain.lower()
        if action == "authorize" and method == "GET":
            return self._authorize_page(shop_domain, dict(parse_qsl(query, keep_blank_values=True)))
        if action == "authorize/confirm" and method == "POST":
            return self._confirm(shop_domain, dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        if action == "access_token" and method == "POST":
            if "json" in content_type:
                import json

                try:
                    data = json.loads(body or b"{}")
                except ValueError:
                    data = None
                if not isinstance(data, dict):
                    return _error(400, "invalid_request", "Malformed JSON body.")
            else:
                data = dict(parse_qsl(body.decode("utf-8", "replace")))
            return self._access_token(shop_domain, data)
        from .state import Reply

        return Reply(405, {"errors": "Method Not Allowed"})

    def _authorize_page(self, shop_domain: str, q: dict):
        app = self.apps.get(q.get("client_id", ""))
        if app is None:
            return _page(400, "Oauth error invalid_request", "<p>The app's client_id is not valid.</p>")
        if not q.get("redirect_uri", "").startswith(("http://", "https://")):
            return _page(400, "Oauth error invalid_request", "<p>The redirect_uri is missing or not valid.</p>")
        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in q.items() if k in ("client_id", "scope", "redirect_uri", "state"))
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in q.get("scope", "").split(",") if s)
        return _page(200, f"Instalar app em {shop_domain}", (
            f"<p>O app <strong>{html.escape(app.client_id)}</strong> pede acesso a:</p><ul>{scopes}</ul>"
            f'<form method="post" action="/{html.escape(shop_domain)}/admin/oauth/authorize/confirm">{fields}'
            '<button type="submit">Instalar app</button></form>'))

    def _confirm(self, shop_domain: str, form: dict):
        from .state import Reply

        app = self.apps.get(form.get("client_id", ""))
        if app is None or not form.get("redirect_uri"):
            return _page(400, "Oauth error invalid_request", "<p>The app's client_id is not valid.</p>")
        if shop_domain not in self.shops:
            self.add_shop(shop_domain, "")  # a merchant's shop exists before any app is installed on it
        grant = Grant(code=secrets.token_hex(16), shop=shop_domain, client_id=app.client_id,
                      scope=form.get("scope", ""), issued=time.time())
        self.grants[grant.code] = grant
        params = {
            "code": grant.code,
            "host": base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop_domain.split('.')[0]}".encode())
            .decode().rstrip("="),
            "shop": shop_domain,
            "state": form.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = callback_hmac(params, app.client_secret)
        redirect = form["redirect_uri"]
        separator = "&" if "?" in redirect else "?"
        return Reply(302, "", {"location": f"{redirect}{separator}{urlencode(params)}",
                               "content-type": "text/plain"})

    def _access_token(self, shop_domain: str, data: dict):
        from .state import Reply

        app = self.apps.get(str(data.get("client_id") or ""))
        if app is None or not hmac.compare_digest(app.client_secret, str(data.get("client_secret") or "")):
            return _error(400, "invalid_client", "Client credentials are invalid.")
        if data.get("grant_type") == "refresh_token":
            return self._refresh(shop_domain, app, str(data.get("refresh_token") or ""))
        grant = self.grants.get(str(data.get("code") or ""))
        if (grant is None or grant.used or grant.shop != shop_domain or grant.client_id != app.client_id
                or time.time() - grant.issued > CODE_TTL_SECONDS):
            return _error(400, "invalid_request", "The authorization code was not found or was already used")
        grant.used = True
        shop = self.shops[shop_domain]
        shop.revoke_after = None
        shop.scope = grant.scope
        if str(data.get("expiring") or "0") in ("1", "true", "True"):
            shop.token = ""  # a new install replaces the shop's tokens of this app
            shop.expiring_tokens.clear()
            shop.refresh_tokens.clear()
            return Reply(200, self._issue_pair(shop, app))
        token = "shpat_" + secrets.token_hex(16)
        shop.token = token
        return Reply(200, {"access_token": token, "scope": grant.scope})

    def _issue_pair(self, shop, app: App) -> dict:
        now = time.time()
        token, refresh = "shpat_" + secrets.token_hex(16), "shprt_" + secrets.token_hex(24)
        shop.expiring_tokens[token] = now + app.token_lifetime
        shop.refresh_tokens[refresh] = now + app.refresh_token_lifetime
        shop.current_refresh = refresh
        return {"access_token": token, "scope": shop.scope, "expires_in": int(round(app.token_lifetime)),
                "refresh_token": refresh, "refresh_token_expires_in": int(round(app.refresh_token_lifetime))}

    def _refresh(self, shop_domain: str, app: App, refresh_token: str):
        """Rotation as Shopify's: using the newest refresh token retires the one before it; the one
        used stays valid until its replacement is used."""
        from .state import Reply

        shop = self.shops.get(shop_domain)
        expires = shop.refresh_tokens.get(refresh_token) if shop else None
        if shop is None or expires is None or expires <= time.time():
            if shop is not None:
                shop.stats["refreshes_refused"] += 1
            return _error(400, "invalid_grant", "The refresh token is invalid, expired or was revoked.")
        if refresh_token == shop.current_refresh:
            # its predecessor was kept for a lost answer; this one is used now, so that one goes
            for old in [t for t in shop.refresh_tokens if t != refresh_token]:
                del shop.refresh_tokens[old]
        else:  # an older one whose replacement was never used (its answer was lost): that replacement goes
            shop.refresh_tokens.pop(shop.current_refresh, None)
            shop.stats["refreshes_with_previous_token"] += 1
        shop.stats["token_refreshes"] += 1
        shop.refreshed_at.append(time.time())
        return Reply(200, self._issue_pair(shop, app), delay=app.refresh_delay)
