from __future__ import annotations

from django.db import models


class TipoPedido(models.TextChoices):
    DATA_REQUEST = "dados_cliente"  # customers/data_request
    CUSTOMER_REDACT = "apagar_cliente"  # customers/redact
    SHOP_REDACT = "apagar_loja"  # shop/redact


class StatusPedido(models.TextChoices):
    PENDING = "na_fila"
    RUNNING = "executando"
    DONE = "concluido"
    FAILED = "falhou"  # retried with backoff by the webhook worker


class PedidoPrivacidade(models.Model):
    """One of Shopify's compliance requests, received by the webhook endpoint and done later by the
    webhook worker (`process_webhooks`).

    `parametros` holds what the work needs (the customer's id, e-mail, phone and the orders) only
    until it is done: a finished request keeps no customer data, only its `relatorio`.
    """

    # Led by privacy_request_once's index; the key's own would be a second copy.
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="pedidos_privacidade",
                             db_index=False)
    tipo = models.CharField(max_length=20, choices=TipoPedido.choices)
    # Same request redelivered under another webhook id: same key, nothing new (services.record_request).
    chave = models.CharField(max_length=255)
    webhook_id = models.CharField(max_length=255)
    parametros = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=StatusPedido.choices, default=StatusPedido.PENDING)
    tentativas = models.PositiveIntegerField(default=0)
    proxima_tentativa_em = models.DateTimeField(null=True, blank=True)
    reservado_ate = models.DateTimeField(null=True, blank=True)
    ultimo_erro = models.CharField(max_length=200, blank=True, default="")
    relatorio = models.JSONField(default=dict, blank=True)
    recebido_em = models.DateTimeField(auto_now_add=True)
    concluido_em = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["loja", "tipo", "chave"], name="privacy_request_once")]
        indexes = [models.Index(fields=["status", "proxima_tentativa_em"])]
