from __future__ import annotations

from django.conf import settings
from django.db import models


class TipoValor(models.TextChoices):
    PEDIDO = "pedido"
    REEMBOLSO = "reembolso"


class ValorVenda(models.Model):
    """What one applied order was worth, or what one refund gave back: written with the ledger's
    facts, once (the ledger decides; the unique key is the second net)."""

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+", db_index=False)
    order_id = models.BigIntegerField()
    tipo = models.CharField(max_length=10, choices=TipoValor.choices)
    referencia = models.CharField(max_length=255)  # the order id, or the refund id
    # shop money; null: the order's payload stated no value (or it predates values: `sem_valor`)
    valor = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    moeda = models.CharField(max_length=3, blank=True, default="")
    valor_apresentado = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    moeda_apresentada = models.CharField(max_length=3, blank=True, default="")
    unidades = models.BigIntegerField(default=0)  # sold quantities (orders)
    ocorrido_em = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["loja", "tipo", "referencia"], name="valor_once")]
        indexes = [models.Index(fields=["loja", "ocorrido_em"])]


class TaxaCambio(models.Model):
    """A user's exchange rate: 1 `moeda` is worth `taxa` `moeda_relatorio` from `vigente_desde` on."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    moeda = models.CharField(max_length=3)
    moeda_relatorio = models.CharField(max_length=3, default="BRL")
    taxa = models.DecimalField(max_digits=24, decimal_places=10)
    vigente_desde = models.DateField()

    class Meta:
        ordering = ["moeda", "moeda_relatorio", "vigente_desde"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "moeda", "moeda_relatorio", "vigente_desde"], name="taxa_one_a_day")
        ]
