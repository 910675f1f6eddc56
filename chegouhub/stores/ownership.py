"""Who owns a shop domain (CONTRACT section 8: a claim proven by Shopify wins; issues 15 and 26).

The first user to register `x.myshopify.com` used to own it for good, so anyone could block the
real merchant. Now a domain is *held* by a loja until Shopify has proven it (`verificado_em`: the
install flow's code exchange, a pasted token that opens that very shop, a successful connectivity
test or webhook configuration), and only a verified loja owns it outright. Every way in follows one
rule: a claim proven now takes a domain held by another user's never-verified loja, which is
deactivated and released (renamed, credentials cleared) so the domain is free, its data staying
with its user; another user's verified loja keeps it. Changing a loja's `shop_domain` clears its
proof; the new domain must be free or the loja's user's (taking one held by another user goes
through a way in that proves it: the install flow, `/api/lojas/conectar/` or a new loja).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils import timezone
from rest_framework import serializers

from chegouhub.common.logging import webhook_log

from .models import Loja
from .selectors import forget_loja_cache

DOMAIN_TAKEN = "Já existe uma loja com este domínio."
DOMAIN_HELD_NEEDS_PROOF = (
    "Já existe uma loja não verificada de outra conta com este domínio; para assumi-lo, conecte a loja pelo "
    "app da Shopify (instalar) ou por POST /api/lojas/conectar/ com o token dela."
)
DOMAIN_HELD_UNVERIFIED = (
    "Já existe uma loja não verificada com este domínio; informe um access_token válido desta loja da "
    "Shopify para assumi-la."
)

# (shop_domain, access_token, api_version) -> does the token open the shop? Named by the
# SHOP_TOKEN_CHECKER setting (the Shopify app's Admin API call): stores imports no Shopify code.
TokenChecker = Callable[[str, str, str], bool]


def token_opens_shop(shop_domain: str, access_token: str, api_version: str) -> bool:
    checker: TokenChecker = import_string(settings.SHOP_TOKEN_CHECKER)
    return bool(checker(shop_domain, access_token, api_version))


def domain_holder(shop_domain: str, *, exclude_pk: int | None = None) -> Loja | None:
    qs = Loja.objects.filter(shop_domain=shop_domain)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def claimable_by(holder: Loja, user) -> bool:
    """Whether `user` may take the domain from `holder` by proving its own token."""
    return holder.owner_id != user.pk and holder.verificado_em is None


def mark_verified(loja_ids) -> int:
    """The lojas' own tokens opened their shops just now."""
    ids = [pk for pk in loja_ids if pk]
    if not ids:
        return 0
    return Loja.objects.filter(pk__in=ids, verificado_em__isnull=True).update(verificado_em=timezone.now())


class DomainTaken(Exception):
    """Another user's verified loja owns the domain."""


def create_loja(*, owner, data: dict) -> Loja:
    """A new loja for `owner`. If its domain is held by another user's never-verified loja, the new
    token must open the shop now; then the holder is released and the new loja starts verified."""
    shop_domain = data["shop_domain"]
    holder = domain_holder(shop_domain)
    verified_now = False
    if holder is not None:
        if not claimable_by(holder, owner):
            raise serializers.ValidationError({"shop_domain": [DOMAIN_TAKEN]})
        token = data.get("access_token") or ""
        version = data.get("api_version") or ""
        if not token or not token_opens_shop(shop_domain, token, version):
            raise serializers.ValidationError({"shop_domain": [DOMAIN_HELD_UNVERIFIED]})
        verified_now = True
    with transaction.atomic():
        if holder is not None:
            _release(holder, taken_by=owner)
        loja = Loja.objects.create(owner=owner, verificado_em=timezone.now() if verified_now else None, **data)
    return loja


def update_loja(*, loja: Loja, data: dict) -> Loja:
    """A PATCH/PUT of a loja. A new `shop_domain` is a claim nobody proved yet: its proof is cleared.
    (The serializer already refused a domain another loja holds.)"""
    if "shop_domain" in data and data["shop_domain"] != loja.shop_domain:
        old_domain = loja.shop_domain
        loja.verificado_em = None
        forget_loja_cache(old_domain)  # the post_save signal forgets the new one
    if "access_token" in data and data["access_token"] != loja.access_token:
        loja.use_pasted_token(data.pop("access_token"))
    for name, value in data.items():
        setattr(loja, name, value)
    loja.save()
    return loja


def take_proven_domain(*, user, shop_domain: str) -> Loja | None:
    """Shopify has just proven `user`'s claim to `shop_domain` (call inside a transaction). Returns
    the user's loja for it, locked, or None when the domain is free; another user's never-verified
    holder is released first. Raises DomainTaken when another user's verified loja owns it."""
    loja = Loja.objects.select_for_update().filter(shop_domain=shop_domain).first()
    if loja is None or loja.owner_id == user.pk:
        return loja
    if not claimable_by(loja, user):
        raise DomainTaken(shop_domain)
    _release(loja, taken_by=user)
    return None


def blocks_unproven_claim(user, shop_domain: str) -> bool:
    """Whether `user` is refused before Shopify is even asked: another user's verified loja owns it."""
    holder = domain_holder(shop_domain)
    return holder is not None and holder.owner_id != user.pk and not claimable_by(holder, user)


def _release(holder: Loja, *, taken_by) -> None:
    """The squatting loja stays its user's (with its history), inactive, under a name no shop has."""
    old_domain = holder.shop_domain
    Loja.objects.filter(pk=holder.pk, verificado_em__isnull=True).update(
        shop_domain=f"liberada-{holder.pk}.{old_domain}"[:255], ativo=False, access_token="", webhook_secret="")
    forget_loja_cache(old_domain)
    webhook_log.warning("unverified loja released its domain to a verified claim",
                        extra={"loja_id": holder.pk, "shop_domain": old_domain, "user_id": taken_by.pk})
