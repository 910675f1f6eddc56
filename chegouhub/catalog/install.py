"""Connecting a loja through the Shopify app install flow (CONTRACT section 9).

`start_install` checks what can be checked before Shopify is involved and returns the authorize
URL; `complete_install` checks the callback (hmac, shop, the session's single-use state, its age),
exchanges the code for an expiring offline token and its refresh token (shopify/tokens.py: a
reconnection replaces the old pair and ends the loja's `reconectar` wait), stores them (encrypted)
and the app's client secret on the user's loja
(created or updated) and queues an import that first configures the loja's webhooks (the worker
does the Shopify calls: the request only waits for the token exchange, which has no other place).
A refusal raises `InstallRefused` before anything is written.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chegouhub.common.logging import webhook_log
from chegouhub.shopify.tokens import store_install_grant
from chegouhub.stores import oauth, ownership
from chegouhub.stores.models import Loja
from chegouhub.stores.oauth import InstallRefused

from .models import Importacao
from .services import queue_import


TAKEN_ELSEWHERE = "Esta loja da Shopify já está conectada a outra conta do ChegouHub."


def _not_someone_elses(user, shop: str) -> None:
    """Refused before Shopify is asked only when another account's loja has proven the shop; a
    never-verified one gives way to the proof this flow brings (ownership.take_proven_domain)."""
    if ownership.blocks_unproven_claim(user, shop):
        raise InstallRefused(TAKEN_ELSEWHERE, status=409)


def _proven_loja(user, shop: str) -> Loja | None:
    """Shopify just proved the user's claim: their loja for the shop (locked), or None to create one."""
    try:
        return ownership.take_proven_domain(user=user, shop_domain=shop)
    except ownership.DomainTaken:  # proven by another account, maybe while we talked to Shopify
        raise InstallRefused(TAKEN_ELSEWHERE, status=409) from None


def start_install(*, user, session, shop: str, redirect_uri: str) -> str:
    oauth.app_configured()
    shop = oauth.normalize_shop(shop)
    _not_someone_elses(user, shop)
    state = oauth.new_state(session, shop)
    return oauth.authorize_url(shop=shop, state=state, redirect_uri=redirect_uri)


def complete_install(*, user, session, params) -> tuple[Loja, Importacao]:
    oauth.app_configured()
    if hasattr(params, "lists") and any(len(values) > 1 for _key, values in params.lists()):
        # which value was signed would be ambiguous
        raise InstallRefused("A resposta da Shopify repete parâmetros; nada foi alterado.", status=400)
    shop = oauth.normalize_shop(params.get("shop"))
    if not oauth.callback_hmac_ok(params, settings.SHOPIFY_API_SECRET):
        raise InstallRefused("A assinatura (hmac) da resposta da Shopify não confere; nada foi alterado.",
                             status=403)
    oauth.take_state(session, params.get("state"), shop)
    oauth.check_timestamp(params)
    _not_someone_elses(user, shop)
    grant = oauth.exchange_code(shop=shop, code=params.get("code"))
    with transaction.atomic():
        loja = _proven_loja(user, shop)
        if loja is None:
            loja = Loja(owner=user, shop_domain=shop, nome=shop.split(".")[0])
        loja.verificado_em = timezone.now()  # the code exchange is Shopify's proof
        store_install_grant(loja, grant)
        loja.webhook_secret = settings.SHOPIFY_API_SECRET  # the app's client secret signs its webhooks
        loja.ativo = True
        loja.save()
        importacao, _ = queue_import(loja=loja, user=user, conectar=True)
    webhook_log.info("loja connected by the install flow", extra={"loja_id": loja.pk, "shop_domain": shop,
                                                                  "importacao_id": importacao.pk})
    return loja, importacao


def connect_with_token(*, user, shop_domain: str, access_token: str, webhook_secret: str, nome: str = "",
                       api_version: str = "") -> tuple[Loja, Importacao, dict]:
    """A custom app's pasted token and secret: tested with the `shop` query first, saved only if
    Shopify accepts the token; then the same background work as an install (webhooks, import)."""
    from chegouhub.shopify.subscriptions import test_connectivity

    shop = oauth.normalize_shop(shop_domain)
    _not_someone_elses(user, shop)
    if not access_token.strip() or not webhook_secret.strip():
        raise InstallRefused("Informe o token de acesso e o segredo do app (API secret key).", status=400)
    probe = Loja(owner=user, shop_domain=shop, access_token=access_token.strip(), api_version=api_version)
    result = test_connectivity(lojas=[probe]).results[0]
    if not result.conectado:
        raise InstallRefused(f"A conexão com a Shopify falhou; nada foi salvo. {result.erro or ''}".strip(), status=422)
    with transaction.atomic():
        loja = _proven_loja(user, shop)
        if loja is None:
            loja = Loja(owner=user, shop_domain=shop)
        loja.verificado_em = timezone.now()  # the token opened this very shop just now
        loja.nome = (nome.strip() or (result.shop or {}).get("nome") or loja.nome or shop.split(".")[0])[:200]
        loja.use_pasted_token(access_token.strip())
        loja.webhook_secret = webhook_secret.strip()
        loja.api_version = api_version or loja.api_version
        loja.ativo = True
        loja.save()
        importacao, _ = queue_import(loja=loja, user=user, conectar=True)
    return loja, importacao, result.shop or {}
