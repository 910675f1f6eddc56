from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet

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


def active_loja_for_shop(shop_domain: str) -> dict | None:
    """The webhook receiver's lookup: id, owner and secret of an active loja, cached briefly."""
    key = loja_cache_key(shop_domain)
    cache = loja_cache()
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    loja = Loja.objects.filter(shop_domain=shop_domain).only("id", "owner_id", "webhook_secret", "ativo").first()
    value = (
        {"id": loja.id, "owner_id": loja.owner_id, "secret": loja.webhook_secret}
        if loja is not None and loja.ativo
        else {}
    )
    cache.set(key, value, loja_cache_seconds())
    return value or None


def forget_loja_cache(shop_domain: str) -> None:
    loja_cache().delete(loja_cache_key(shop_domain))


def loja_for_compliance(shop_domain: str) -> dict | None:
    """The compliance webhooks' lookup: a loja active or not (Shopify sends shop/redact after the
    uninstall), with its secret, or the app's client secret (SHOPIFY_API_SECRET) once shop/redact
    has deleted the loja's own."""
    loja = Loja.objects.filter(shop_domain=shop_domain).only("id", "owner_id", "webhook_secret").first()
    if loja is None:
        return None
    return {"id": loja.id, "owner_id": loja.owner_id,
            "secret": loja.webhook_secret or getattr(settings, "SHOPIFY_API_SECRET", "")}
