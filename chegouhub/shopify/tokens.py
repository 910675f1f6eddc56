"""A loja's Admin API token, always usable (CONTRACT 9, docs/tokens.md).

Install-flow lojas hold an expiring offline token (an hour) and a refresh token that Shopify
rotates on use. `fresh_access_token` is the one place a token is renewed: it locks the loja's row
(FOR NO KEY UPDATE: the webhooks' foreign-key checks are not held up), reads the stored pair,
refreshes only if the stored token is still the one that is due (or that Shopify answered 401 to),
and stores the new pair in that same transaction. So two processes never refresh one loja at once:
the second waits on the lock, then finds the new token and uses it. A refresh whose answer is lost
leaves the previous pair stored; Shopify keeps the previous refresh token valid until the new one is
used, so the next refresh works.

A refresh Shopify refuses (uninstalled, revoked, refresh token expired) marks the loja
`reconectar_desde` and tells its owner once (`loja_reconectar`); nothing calls Shopify for it until
the install flow runs again (`store_install_grant`). Pasted custom-app tokens never expire and are
never refreshed.

`client_for_loja` builds every AdminApiClient of a loja with its `LojaCredential`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from chegouhub.common.logging import register_secret, webhook_log
from chegouhub.realtime.events import EVENT_SCHEMAS, NewEvent, record_events
from chegouhub.realtime.models import Stream
from chegouhub.stores import oauth
from chegouhub.stores.models import Loja, OrigemToken

from .admin_api import AdminApiClient, ShopifyReconnectRequired, ShopifyUnavailable

EVENT_SCHEMAS.setdefault("loja_reconectar", (Stream.NOTIFICATIONS, frozenset(
    {"loja_id", "shop_domain", "nome", "url", "detalhes"})))

# From this day Shopify rejects the Admin API requests of public apps made with non-expiring offline tokens.
NON_EXPIRING_CUTOFF = date(2027, 1, 1)
RECONNECT_MESSAGE = ("A Shopify não aceita mais o acesso do ChegouHub a esta loja (app desinstalado ou acesso "
                     "revogado). Reconecte a loja: o estoque que mudou enquanto isso será enviado.")


def refresh_margin() -> timedelta:
    return timedelta(seconds=float(settings.SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS))


def reconnect_url(shop_domain: str) -> str:
    return f"/shopify/instalar/?shop={shop_domain}"


@dataclass
class TokenState:
    access_token: str = field(repr=False)
    expires_at: datetime | None
    refreshable: bool


@dataclass
class LojaCredential:
    """What an AdminApiClient asks for its token. Touches the database only to renew one that is
    due (or refused): a pasted token never does."""

    loja_id: int | None
    access_token: str = field(repr=False)
    expires_at: datetime | None = None
    refreshable: bool = False
    blocked: bool = False  # waiting for a reconnection: no call goes out

    @classmethod
    def of(cls, loja: Loja) -> LojaCredential:
        return cls(loja_id=loja.pk, access_token=loja.access_token or "", expires_at=loja.token_expira_em,
                   refreshable=bool(loja.pk and loja.refresh_token), blocked=loja.reconectar_desde is not None)

    def due(self, now: datetime | None = None) -> bool:
        return (self.refreshable and self.expires_at is not None
                and (now or timezone.now()) >= self.expires_at - refresh_margin())

    async def current(self) -> str:
        if self.blocked:
            raise ShopifyReconnectRequired(RECONNECT_MESSAGE, status=401)
        if self.due():
            await self._renew(force=False)
        return self.access_token

    async def refreshed(self, stale: str) -> str | None:
        if not self.refreshable:
            return None
        await self._renew(force=True, seen=stale)
        return self.access_token

    async def _renew(self, *, force: bool, seen: str | None = None) -> None:
        try:
            # a thread's connection closed after use, as the consumers' (the refresh is rare)
            state = await database_sync_to_async(fresh_access_token)(self.loja_id, force=force, seen=seen)
        except ShopifyReconnectRequired:
            self.blocked = True
            raise
        self.access_token, self.expires_at, self.refreshable = state.access_token, state.expires_at, state.refreshable


def client_for_loja(loja: Loja, **options) -> AdminApiClient:
    """The loja's Admin API client (its version, its renewable token); `options` as AdminApiClient's."""
    return AdminApiClient(shop_domain=loja.shop_domain, credential=LojaCredential.of(loja),
                          api_version=loja.api_version or None, **options)


def _lock_loja(loja_id: int) -> Loja:
    if connection.vendor != "postgresql":
        # SQLite has no row locks: a write first takes its database write lock, so a second
        # process waits here as it would on the row (and then reads what the first stored).
        Loja.objects.filter(pk=loja_id).update(origem_token=F("origem_token"))
        return Loja.objects.get(pk=loja_id)
    return Loja.objects.select_for_update(no_key=True).get(pk=loja_id)


def _state(loja: Loja) -> TokenState:
    return TokenState(access_token=loja.access_token or "", expires_at=loja.token_expira_em,
                      refreshable=bool(loja.refresh_token))


def fresh_access_token(loja_id: int, *, force: bool = False, seen: str | None = None) -> TokenState:
    """The loja's token to use now: renewed if due (or, with `force`, if it is still `seen`, the
    one Shopify answered 401 to). Raises ShopifyReconnectRequired or ShopifyUnavailable."""
    with transaction.atomic():
        loja = _lock_loja(loja_id)
        if loja.reconectar_desde is None:
            state = _state(loja)
            if not state.refreshable:
                return state
            if force and seen is not None and state.access_token != seen:
                return state  # another process renewed it while we waited for the lock
            now = timezone.now()
            if not force and not (state.expires_at is None or now >= state.expires_at - refresh_margin()):
                return state  # renewed by another process while we waited for the lock
            try:
                grant = oauth.refresh_access_token(shop=loja.shop_domain, refresh_token=loja.refresh_token)
            except oauth.RefreshRefused:
                mark_reconnect(loja)  # committed with the block; raised below
            except oauth.RefreshUnavailable as exc:
                webhook_log.warning("shopify token refresh failed; will retry",
                                    extra={"loja_id": loja.pk, "erro": str(exc)})
                if state.expires_at is not None and now < state.expires_at and not force:
                    return state  # still valid a while: used, and renewed on a later call
                raise ShopifyUnavailable(f"A Shopify não renovou o token da loja agora: {exc}") from None
            else:
                _store_grant(loja, grant, now)
                webhook_log.info("shopify token refreshed", extra={"loja_id": loja.pk,
                                                                  "expira_em": loja.token_expira_em.isoformat()
                                                                  if loja.token_expira_em else None})
                return _state(loja)
    # Refused now or earlier: raised after the commit, so the loja stays marked and its owner told.
    raise ShopifyReconnectRequired(RECONNECT_MESSAGE, status=401)


def _store_grant(loja: Loja, grant: oauth.TokenGrant, now: datetime) -> None:
    register_secret(grant.access_token)
    loja.access_token = grant.access_token
    loja.token_expira_em = now + timedelta(seconds=grant.expires_in) if grant.expires_in is not None else None
    loja.refresh_token = grant.refresh_token
    loja.refresh_token_expira_em = (now + timedelta(seconds=grant.refresh_token_expires_in)
                                    if grant.refresh_token_expires_in is not None else None)
    loja.save(update_fields=["access_token", "token_expira_em", "refresh_token", "refresh_token_expira_em"])


def mark_reconnect(loja: Loja, detalhes: str = RECONNECT_MESSAGE) -> bool:
    """The loja waits for a reconnection; its owner is told once. Call with the loja's row locked."""
    if loja.reconectar_desde is not None:
        return False
    loja.reconectar_desde = timezone.now()
    loja.save(update_fields=["reconectar_desde"])
    record_events([NewEvent(type="loja_reconectar", loja_id=loja.pk, user_id=loja.owner_id, priority="alta", data={
        "loja_id": loja.pk, "shop_domain": loja.shop_domain, "nome": loja.nome,
        "url": reconnect_url(loja.shop_domain), "detalhes": detalhes})])
    webhook_log.warning("loja needs reconnecting: shopify refused its refresh token",
                        extra={"loja_id": loja.pk, "shop_domain": loja.shop_domain})
    return True


def store_install_grant(loja: Loja, grant: oauth.TokenGrant) -> None:
    """An install (or reconnection) through the install flow: the new token pair replaces whatever
    the loja had (a non-expiring token included), and a loja waiting to reconnect is ok again.
    Called inside the install's transaction, with the loja's row locked; the caller saves."""
    now = timezone.now()
    register_secret(grant.access_token)
    loja.access_token = grant.access_token
    loja.origem_token = OrigemToken.INSTALACAO
    loja.token_expira_em = now + timedelta(seconds=grant.expires_in) if grant.expires_in is not None else None
    loja.refresh_token = grant.refresh_token
    loja.refresh_token_expira_em = (now + timedelta(seconds=grant.refresh_token_expires_in)
                                    if grant.refresh_token_expires_in is not None else None)
    loja.reconectar_desde = None


def lojas_waiting_to_reconnect(loja_ids=None) -> set[int]:
    qs = Loja.objects.filter(reconectar_desde__isnull=False)
    if loja_ids is not None:
        qs = qs.filter(pk__in=loja_ids)
    return set(qs.values_list("pk", flat=True))


def permanent_install_tokens():
    """Lojas of the install flow still holding a non-expiring token (they stop on NON_EXPIRING_CUTOFF)."""
    return Loja.objects.filter(origem_token=OrigemToken.INSTALACAO, refresh_token="", token_expira_em__isnull=True) \
        .exclude(access_token="").order_by("id")
