"""Putting lojas in one depósito and taking them out (CONTRACT 10).

A loja moves with the produtos it created (its "home" produtos); when it is the last loja of its
old depósito, every produto of that depósito goes with it. A move that would leave the stock
ambiguous is refused, naming the SKUs, and changes nothing:
- a moving SKU already exists in the target depósito (two stocks of one SKU cannot be merged
  without a decision the system cannot make);
- a link crosses the new border: a mapeamento or Shopify variant link of the moving loja naming
  a produto that stays, or of a staying loja naming a produto that moves.
The loja's open sockets are told (`deposito.moved`) and close with 1012, so the client reconnects
and follows the new depósito (its resume cursor keeps its meaning: ids are global).
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework.exceptions import ValidationError

from chegouhub.catalog.models import VarianteShopify
from chegouhub.inventory.models import Mapeamento, Produto
from chegouhub.common.logging import channels_log
from chegouhub.realtime.events import deposito_group
from chegouhub.stores.models import Deposito, Loja

from . import services


def create_deposito(*, owner, nome: str, lojas: list[Loja]) -> Deposito:
    with transaction.atomic():
        deposito = Deposito.objects.create(owner=owner, nome=nome)
        for loja in lojas:
            move_loja(loja=loja, deposito=deposito)
    return deposito


def move_loja(*, loja: Loja, deposito: Deposito) -> Loja:
    """Put the loja (and its produtos) in `deposito`; raises ValidationError when they collide."""
    with transaction.atomic():
        loja = Loja.objects.select_for_update().get(pk=loja.pk)
        if loja.deposito_id == deposito.pk:
            return loja
        old = Deposito.objects.select_for_update().get(pk=loja.deposito_id)
        alone = not old.lojas.exclude(pk=loja.pk).exists()
        moving = Produto.objects.filter(deposito=old) if alone else Produto.objects.filter(deposito=old, loja=loja)
        moving_ids = set(moving.values_list("pk", flat=True))
        clash = sorted(set(moving.values_list("sku", flat=True))
                       & set(Produto.objects.filter(deposito=deposito).values_list("sku", flat=True)))
        if clash:
            raise ValidationError({"deposito_id": [
                f"O depósito de destino já tem produtos com estes SKUs: {', '.join(clash[:20])}."]})
        if not alone:
            crossing = _crossing_skus(loja, old, moving_ids)
            if crossing:
                raise ValidationError({"deposito_id": [
                    "Estes produtos são compartilhados com outra loja do depósito (mapeamentos ou variantes "
                    f"da Shopify): {', '.join(crossing[:20])}."]})
        Produto.objects.filter(pk__in=moving_ids).update(deposito=deposito)
        Loja.objects.filter(pk=loja.pk).update(deposito=deposito)
        loja.deposito = deposito
        # An emptied depósito stays (its stock events are what resume cursors point into); the
        # user may delete it (DELETE /api/depositos/{id}/ refuses one that still has lojas).
        if loja.sincronizar_estoque:
            transaction.on_commit(lambda: services.queue_loja(loja))
        transaction.on_commit(lambda: announce_move(loja.pk, old.pk))
    return loja


def _crossing_skus(loja: Loja, old: Deposito, moving_ids: set[int]) -> list[str]:
    """SKUs of links that would cross between the loja leaving and the lojas staying."""
    out = set()
    own_maps = Mapeamento.objects.filter(loja=loja).exclude(produto_id__in=moving_ids)
    own_links = VarianteShopify.objects.filter(loja=loja).exclude(produto_id__in=moving_ids)
    other_maps = Mapeamento.objects.filter(produto_id__in=moving_ids).exclude(loja=loja)
    other_links = VarianteShopify.objects.filter(produto_id__in=moving_ids).exclude(loja=loja)
    for qs in (own_maps, other_maps):
        out.update(qs.values_list("produto__sku", flat=True))
    for qs in (own_links, other_links):
        out.update(qs.values_list("produto__sku", flat=True))
    return sorted(out)


def announce_move(loja_id: int, old_deposito_id: int) -> None:
    """The loja's sockets, all in the old depósito's group, close so that they reconnect to the new one."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(deposito_group(old_deposito_id), {"type": "deposito.moved", "loja_id": loja_id})
    except Exception as exc:  # the sockets keep the old depósito until they reconnect; the move stands
        channels_log.warning("depósito move not announced to sockets", extra={"loja_id": loja_id,
                                                                            "error_type": type(exc).__name__})
