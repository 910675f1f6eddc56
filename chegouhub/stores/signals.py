"""Cache invalidation only: a saved or deleted loja must not be served stale to the receiver."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Loja
from .selectors import forget_loja_cache


@receiver(post_save, sender=Loja)
@receiver(post_delete, sender=Loja)
def _forget(sender, instance: Loja, **kwargs) -> None:
    forget_loja_cache(instance.shop_domain)
