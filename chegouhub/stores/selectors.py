from __future__ import annotations

from django.core.cache import caches
from django.db.models import QuerySet

from .models import Loja


def lojas_for_user(user) -> QuerySet[Loja]:
    return Loja.objects.filter(owner_id=user.pk)


def loja_user_ids(loja_id: int) -> list[int]:
    """Users allowed on a loja (today: its owner)."""
    return list(Loja.objects.filter(pk=loja_id).values_list("owner_id", flat=True))


_CACHE_SECONDS = 30


def active_loja_for_shop(shop_domain: str) -> dict | None:
    """The webhook receiver's lookup: id, owner and secret of an active loja, cached briefly."""
    key = f"loja-by-shop:{shop_domain}"
    cache = caches["local"]
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    loja = Loja.objects.filter(shop_domain=shop_domain).only("id", "owner_id", "webhook_secret", "ativo").first()
    value = (
        {"id": loja.id, "owner_id": loja.owner_id, "secret": loja.webhook_secret}
        if loja is not None and loja.ativo
        else {}
    )
    cache.set(key, value, _CACHE_SECONDS)
    return value or None


def forget_loja_cache(shop_domain: str) -> None:
    caches["local"].delete(f"loja-by-shop:{shop_domain}")
