"""Loja hooks: turning sync on (or changing the reserve) queues every variant of the loja."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from chegouhub.stores.models import Loja

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
