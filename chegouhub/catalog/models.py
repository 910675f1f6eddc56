"""Variant links (a Shopify variant <-> a produto of its loja) and catalog imports (CONTRACT 9)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class VarianteShopify(models.Model):
    """One Shopify product variant of a loja, linked to the produto its SKU names."""

    # The unique (loja, shopify_variant_id) index leads with the loja: its own index would be a copy.
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="variantes", db_index=False)
    produto = models.ForeignKey("inventory.Produto", on_delete=models.CASCADE, related_name="variantes")
    shopify_variant_id = models.BigIntegerField()  # Shopify's numeric id (the `variant_id` of order lines)
    inventory_item_id = models.BigIntegerField()
    sku = models.CharField(max_length=255)
    titulo = models.CharField(max_length=255)
    shopify_disponivel = models.BigIntegerField(null=True, blank=True)  # `available` at the loja's location
    # Whether shopify_disponivel is known to be Shopify's (a push it confirmed, then this loja's own
    # sales taken off) rather than read at some moment (a later-arriving sale may be in it already).
    # Only a confirmed quantity lets the pusher skip a call (stocksync/services.py).
    shopify_confirmado = models.BooleanField(default=False)
    sincronizado_em = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["loja", "shopify_variant_id"], name="variante_unique_per_loja"),
        ]
        # push_stock looks for links never confirmed every round (stocksync queue_unconfirmed): only those
        indexes = [models.Index(fields=["loja"], name="variante_unconfirmed", condition=models.Q(shopify_confirmado=False))]


class ImportStatus(models.TextChoices):
    QUEUED = "na_fila"
    RUNNING = "executando"
    DONE = "concluida"
    FAILED = "falhou"


class ImportMode(models.TextChoices):
    PAGES = "paginas"
    BULK = "bulk"


class Importacao(models.Model):
    """A catalog import: a durable job row, claimed by one worker with a conditional UPDATE."""

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="importacoes")
    solicitada_por = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    modo = models.CharField(max_length=10, choices=ImportMode.choices, blank=True, default="")
    # Set by the install flow: the worker configures the loja's webhooks and location first.
    conectar = models.BooleanField(default=False)
    total = models.IntegerField(default=0)
    processados = models.IntegerField(default=0)
    criados = models.IntegerField(default=0)
    vinculados = models.IntegerField(default=0)
    sem_sku = models.IntegerField(default=0)
    erros = models.JSONField(default=list)
    variantes_sem_sku = models.JSONField(default=list)
    # What it cost on Shopify's side (docs/catalog.md): requests, points, throttled answers.
    requisicoes = models.IntegerField(default=0)
    custo = models.IntegerField(default=0)
    limitadas = models.IntegerField(default=0)
    criada_em = models.DateTimeField(auto_now_add=True)
    iniciada_em = models.DateTimeField(null=True, blank=True)
    concluida_em = models.DateTimeField(null=True, blank=True)
    # The worker's lease: a worker that died leaves a running import whose lease ran out.
    ativa_ate = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"])]
