from __future__ import annotations

from django.db import models
from django.db.models import Q


class Produto(models.Model):
    # The loja that created it (its "home"); its stock is the depósito's, shared by the depósito's lojas.
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="produtos", db_index=False)
    # The unique (deposito, sku) index below leads with the depósito: its own index would be a copy.
    deposito = models.ForeignKey("stores.Deposito", on_delete=models.CASCADE, related_name="produtos",
                                 db_index=False)
    sku = models.CharField(max_length=255)
    nome = models.CharField(max_length=255)
    # 64-bit: no sale or receipt a column can hold refuses (CONTRACT section 8).
    estoque_atual = models.BigIntegerField(default=0)
    estoque_minimo = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["deposito", "sku"], name="produto_unique_sku_per_deposito")]

    def __str__(self) -> str:
        return f"{self.sku} ({self.estoque_atual})"

    def save(self, *args, **kwargs):
        if self.deposito_id is None:  # a produto created for a loja lives in that loja's depósito
            self.deposito_id = self.loja.deposito_id
        super().save(*args, **kwargs)


class Mapeamento(models.Model):
    # As Produto's: the unique (loja, shopify_sku) index covers it.
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="mapeamentos", db_index=False)
    shopify_sku = models.CharField(max_length=255)
    produto = models.ForeignKey(Produto, on_delete=models.CASCADE, related_name="mapeamentos")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["loja", "shopify_sku"], name="mapeamento_unique_sku_per_loja")
        ]


class Origem(models.TextChoices):
    INICIAL = "inicial"
    MANUAL = "manual"
    PEDIDO_PAGO = "shopify_pedido_pago"
    PEDIDO_CANCELADO = "shopify_pedido_cancelado"
    REEMBOLSO = "shopify_reembolso"
    IMPORTACAO = "importacao"  # a produto created by a catalog import, with Shopify's available quantity


class Movimentacao(models.Model):
    """Immutable audit row: every stock change writes one, in the same transaction."""

    # Both keys lead a composite index below: their own indexes would only double the writes.
    produto = models.ForeignKey(Produto, on_delete=models.CASCADE, related_name="movimentacoes", db_index=False)
    # Null once its loja is deleted from a shared depósito: the line stays in the ledger of the
    # produtos the other lojas go on selling (alone in its depósito, it goes with its produtos).
    loja = models.ForeignKey("stores.Loja", on_delete=models.SET_NULL, null=True, related_name="movimentacoes",
                             db_index=False)
    # The produto's depósito, kept by database triggers (migration 0008: copied on insert, and moved
    # with the produto when its loja changes depósito): `?loja_id=` lists a depósito's movements
    # newest first from one index, not by joining every produto (docs/history.md). Cascades go
    # through `produto`, hence no constraint here.
    deposito = models.ForeignKey("stores.Deposito", on_delete=models.DO_NOTHING, null=True, blank=True,
                                 related_name="+", db_index=False, db_constraint=False, editable=False)
    quantidade = models.BigIntegerField()
    estoque_anterior = models.BigIntegerField()
    estoque_atual = models.BigIntegerField()
    origem = models.CharField(max_length=40, choices=Origem.choices)
    referencia = models.CharField(max_length=255, blank=True, default="")  # order or refund id (ledger.MAX_ID_LENGTH)
    motivo = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["loja", "-id"]),
            models.Index(fields=["produto", "-id"]),
            models.Index(fields=["deposito", "-id"], name="mov_deposito_id"),
            # `?origem=` other than a sale: the rare movements alone (a sale filter reads the one above).
            models.Index(fields=["deposito", "-id"], name="mov_deposito_not_sale_id",
                         condition=~Q(origem="shopify_pedido_pago")),
        ]


class AlertaTipo(models.TextChoices):
    ESTOQUE_BAIXO = "estoque_baixo"
    ESTOQUE_ZERADO = "estoque_zerado"


class AlertaPrioridade(models.TextChoices):
    ALTA = "alta"
    CRITICA = "critica"


class AlertaStatus(models.TextChoices):
    ATIVO = "ativo"
    RESOLVIDO = "resolvido"


class Alerta(models.Model):
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="alertas")
    produto = models.ForeignKey(Produto, on_delete=models.CASCADE, related_name="alertas")
    tipo = models.CharField(max_length=20, choices=AlertaTipo.choices)
    prioridade = models.CharField(max_length=10, choices=AlertaPrioridade.choices)
    status = models.CharField(max_length=10, choices=AlertaStatus.choices, default=AlertaStatus.ATIVO)
    estoque_atual = models.BigIntegerField()
    estoque_minimo = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolvido_em = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["produto", "tipo"], condition=Q(status="ativo"), name="alerta_one_active_per_tipo"
            )
        ]
