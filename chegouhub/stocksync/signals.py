"""Loja hooks: turning sync on (or changing the reserve) queues every variant of the loja; a loja
deleted from a shared depósito leaves its produtos there."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from chegouhub.inventory.models import Alerta, Movimentacao, Produto
from chegouhub.stores.models import Loja, loja_deleting

from . import services


@receiver(pre_save, sender=Loja)
def _remember_sync_settings(sender, instance: Loja, **kwargs) -> None:
    old = Loja.objects.filter(pk=instance.pk).values("sincronizar_estoque", "estoque_reserva").first() \
        if instance.pk else None
    instance._sync_before = old


@receiver(post_save, sender=Loja)
def _queue_when_sync_starts(sender, instance: Loja, **kwargs) -> None:
    if not instance.sincronizar_estoque:
        return
    old = getattr(instance, "_sync_before", None)
    if old and old["sincronizar_estoque"] and old["estoque_reserva"] == instance.estoque_reserva:
        return
    transaction.on_commit(lambda: services.queue_loja(instance))


@receiver(loja_deleting)
def _keep_the_shared_stock(sender, loja: Loja, **kwargs) -> None:
    """A loja deleted from a shared depósito leaves its produtos to the lojas staying (they sell
    them too); alone in its depósito, they go with it as before. A loja staying means an active
    one, or else one whose owner kept its history (shop/redact leaves tombstones: one that asked
    for its data to go must not inherit another's)."""
    heir = (Loja.objects.filter(deposito_id=loja.deposito_id).exclude(pk=loja.pk)
            .filter(Q(ativo=True) | Q(manter_historico=True)).order_by("-ativo", "id").first())
    if heir is not None:
        Produto.objects.filter(loja=loja).update(loja=heir)
        # Its lines in their ledger stay, no longer its (loja null): the movements still add up to
        # the stock the others sell (they hold ids and quantities, nobody's personal data).
        Movimentacao.objects.filter(loja=loja, produto__deposito_id=loja.deposito_id).update(loja=None)
        Alerta.objects.filter(loja=loja, produto__deposito_id=loja.deposito_id).update(loja=heir)
