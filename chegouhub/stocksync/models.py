"""Stock pushed back to Shopify (CONTRACT 10).

The queue is the event log itself: each depósito's stock stream is read through a cursor (ids of
one depósito's stream become visible in id order, realtime/events.py), and what it names becomes
one `PushPendente` row per variant link, written by the pusher, never by the webhook path. A row
is claimed with a lease, so a pusher killed mid-push leaves it to the next one; Shopify's
`@idempotent` key makes a repeated push harmless and `changeFromQuantity` makes a stale one fail.
"""

from __future__ import annotations

from django.db import models


class CursorDeposito(models.Model):
    """How far the pusher has read a depósito's stock stream."""

    deposito = models.OneToOneField("stores.Deposito", on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    ultimo_evento = models.BigIntegerField(default=0)
    # The depósito's stock changes per second as of `updated_at`, an exponentially decaying count
    # (services.change_rate): how fast it sells decides whether its pushes are paced (a rush).
    ritmo = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)


class PushPendente(models.Model):
    """A variant whose Shopify quantity must be brought to what the depósito has."""

    variante = models.OneToOneField("catalog.VarianteShopify", on_delete=models.CASCADE, related_name="+")
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+", db_index=False)
    desde = models.DateTimeField()  # the oldest change not yet pushed (the delay is measured from it)
    evento_id = models.BigIntegerField(default=0)  # the newest stock event behind it (the push's reference)
    tentativas = models.IntegerField(default=0)
    proxima_em = models.DateTimeField()  # not before (backoff after an error)
    em_envio_ate = models.DateTimeField(null=True, blank=True)  # a pusher's lease
    # First refused as stale (CHANGE_FROM_QUANTITY_STALE) since its last confirmation: usually a sale
    # of this store whose webhook is on its way; read from Shopify only past a grace period.
    stale_desde = models.DateTimeField(null=True, blank=True)
    ultimo_erro = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["loja", "proxima_em"])]


class EnvioEstoque(models.Model):
    """A quantity Shopify confirmed: the audit of pushes and the figures of the status endpoint."""

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+", db_index=False)
    produto = models.ForeignKey("inventory.Produto", on_delete=models.CASCADE, related_name="+", db_index=False)
    inventory_item_id = models.BigIntegerField()
    quantidade = models.BigIntegerField()
    anterior = models.BigIntegerField(null=True)  # what Shopify had (changeFromQuantity)
    atraso_ms = models.IntegerField()
    evento_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["loja", "-id"]), models.Index(fields=["produto", "-id"])]


class Divergencia(models.Model):
    """A quantity changed on Shopify's side (by hand in the admin, say), found by reconcile_stock.

    Movement-free: the depósito's stock did not change; Shopify's was corrected to match it.
    """

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+", db_index=False)
    produto = models.ForeignKey("inventory.Produto", on_delete=models.CASCADE, related_name="+", db_index=False)
    inventory_item_id = models.BigIntegerField()
    sku = models.CharField(max_length=255)
    shopify_tinha = models.BigIntegerField(null=True)
    esperado = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["loja", "-id"])]
