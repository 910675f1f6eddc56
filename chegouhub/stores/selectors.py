from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet

from chegouhub.common.logging import webhook_log

from .fields import UndecryptableCredential
from .models import Loja


def lojas_for_user(user) -> QuerySet[Loja]:
    return Loja.objects.filter(owner_id=user.pk)


_local_cache = None


def loja_cache():
    """The process-local cache of loja lookups (the Django view's and the lean webhook route's).

    `caches[...]` builds a cache object per thread and per asyncio task (each request); a
    LocMemCache's entries live in module state shared by every object of its name, so one object
    serves them all.
    """
    global _local_cache
    if _local_cache is None:
        _local_cache = caches["local"]
    return _local_cache


def loja_cache_seconds() -> float:
    """How long a process trusts its copy of a loja's id, owner and secret. Only the process that
    saves a loja forgets its copy at once; the others must refuse a deactivated loja or an old
    secret within a second (CONTRACT section 4), so the copy lives less than that."""
    return settings.LOJA_CACHE_SECONDS


def loja_cache_key(shop_domain: str) -> str:
    return f"loja-by-shop:{shop_domain}"


class CredentialUnavailable(Exception):
    """The loja's webhook secret opens with no configured key: the receiver answers 503 (Shopify
    retries for hours, time to restore the old key as a fallback) instead of failing every request."""

    erro = ("O segredo de webhook desta loja não abre com as chaves de criptografia configuradas; "
            "a Shopify vai reenviar.")

    def __init__(self, loja_id: int):
        super().__init__(loja_id)
        self.loja_id = loja_id


# Lojas whose unreadable secret this process has already logged: one line per loja, not per request.
_reported_unreadable: set[int] = set()


def _unreadable_secret(loja_id: int) -> CredentialUnavailable:
    if loja_id not in _reported_unreadable:
        _reported_unreadable.add(loja_id)
        webhook_log.error(
            "webhook secret cannot be decrypted with any configured key; answering 503 until a key that "
            "opens it is configured (FIELD_ENCRYPTION_KEY_FALLBACKS / DJANGO_SECRET_KEY_FALLBACKS)",
            extra={"loja_id": loja_id})
    return CredentialUnavailable(loja_id)


def _unreadable_marker(loja_id: int, owner_id: int) -> dict:
    # Cached like a readable loja, so the lean route (which finds no secret in it) and the next
    # requests of this second skip the database; "secret": "" is refused by every verifier.
    return {"id": loja_id, "owner_id": owner_id, "secret": "", "unreadable": True}


def active_loja_for_shop(shop_domain: str) -> dict | None:
    """The webhook receiver's lookup: id, owner and secret of an active loja, cached briefly.
    Raises CredentialUnavailable when its secret opens with no configured key."""
    key = loja_cache_key(shop_domain)
    cache = loja_cache()
    cached = cache.get(key)
    if cached is None:
        cached = _active_loja_value(shop_domain)
        cache.set(key, cached, loja_cache_seconds())
    if cached.get("unreadable"):
        raise _unreadable_secret(cached["id"])
    return cached or None


def _active_loja_value(shop_domain: str) -> dict:
    try:
        loja = Loja.objects.filter(shop_domain=shop_domain).only("id", "owner_id", "webhook_secret", "ativo").first()
    except UndecryptableCredential:
        row = Loja.objects.filter(shop_domain=shop_domain).values("id", "owner_id", "ativo").first()
        return _unreadable_marker(row["id"], row["owner_id"]) if row and row["ativo"] else {}
    if loja is None or not loja.ativo:
        return {}
    _reported_unreadable.discard(loja.id)  # readable again (a key restored): report a new break
    return {"id": loja.id, "owner_id": loja.owner_id, "secret": loja.webhook_secret}


def forget_loja_cache(shop_domain: str) -> None:
    loja_cache().delete(loja_cache_key(shop_domain))


def loja_for_compliance(shop_domain: str) -> dict | None:
    """The compliance webhooks' lookup: a loja active or not (Shopify sends shop/redact after the
    uninstall), with its secret, or the app's client secret (SHOPIFY_API_SECRET) once shop/redact
    has deleted the loja's own."""
    try:
        loja = Loja.objects.filter(shop_domain=shop_domain).only("id", "owner_id", "webhook_secret").first()
    except UndecryptableCredential:
        raise _unreadable_secret(Loja.objects.filter(shop_domain=shop_domain).values_list("id", flat=True)
                                 .first()) from None
    if loja is None:
        return None
    return {"id": loja.id, "owner_id": loja.owner_id,
            "secret": loja.webhook_secret or getattr(settings, "SHOPIFY_API_SECRET", "")}
