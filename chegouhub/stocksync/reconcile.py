"""`reconcile_stock`: what each syncing loja's Shopify shows, against what the depósito has.

A quantity changed on Shopify's side (by hand in the admin, an app) is recorded as a divergence
(no movement: the depósito's stock is the truth) and pushed back by the pusher.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


from chegouhub.catalog import remote as catalog_remote
from chegouhub.catalog.models import VarianteShopify
from chegouhub.shopify.admin_api import ShopifyError
from chegouhub.shopify.tokens import client_for_loja
from chegouhub.stores.models import Loja

from . import remote, services


@dataclass
class LojaReconciliation:
    loja_id: int
    lidas: int = 0
    divergencias: int = 0
    erro: str = ""


def reconcile_stock(*, loja_id: int | None = None) -> list[LojaReconciliation]:
    lojas = services.syncing_lojas()
    if loja_id is not None:
        lojas = Loja.objects.filter(pk=loja_id)
    return [reconcile_loja(loja) for loja in lojas.order_by("id")]


def reconcile_loja(loja: Loja) -> LojaReconciliation:
    out = LojaReconciliation(loja_id=loja.pk)
    links = dict(VarianteShopify.objects.filter(loja=loja).values_list("inventory_item_id", "pk"))
    if not links:
        return out
    try:
        found, location = asyncio.run(_read(loja, list(links)))
    except ShopifyError as exc:
        out.erro = str(exc)[:500]
        return out
    if location and not loja.location_id:
        Loja.objects.filter(pk=loja.pk).update(location_id=location)
    by_variant = {links[item]: qty for item, qty in found.items()}
    out.lidas = len(by_variant)
    out.divergencias = len(services.record_divergences(loja, by_variant))
    return out


async def _read(loja: Loja, items: list[int]) -> tuple[dict[int, int | None], str]:
    async with client_for_loja(loja) as client:
        location = loja.location_id or (await catalog_remote.primary_location(client))["id"]
        return await remote.read_available(client, location_id=location, inventory_item_ids=items), location


