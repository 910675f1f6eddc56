from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .fields import EncryptedTextField

shop_domain_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
    "O domínio deve ser do tipo minha-loja.myshopify.com.",
)


class WebhookStatus(models.TextChoices):
    NOT_CONFIGURED = "nao_configurado"
    CONFIGURED = "configurado"
    INCOMPLETE = "incompleto"
    REMOVED = "removido"
    UNINSTALLED = "desinstalado"
    ERROR = "erro"


class Loja(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lojas")
    nome = models.CharField(max_length=200)
    shop_domain = models.CharField(max_length=255, unique=True, validators=[shop_domain_validator])
    access_token = EncryptedTextField(blank=True, default="")
    webhook_secret = EncryptedTextField(blank=True, default="")
    api_version = models.CharField(max_length=20, blank=True, default="", help_text="Empty: settings default")
    ativo = models.BooleanField(default=True)
    webhook_status = models.CharField(
        max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.NOT_CONFIGURED
    )
    webhook_checked_at = models.DateTimeField(null=True, blank=True)
    # When the loja's own token last opened its shop (a connectivity test, a webhook configuration).
    # Until then the domain is only claimed: another user whose token does open it may take it over.
    verificado_em = models.DateTimeField(null=True, blank=True)
    slack_webhook_url = models.URLField(blank=True, default="")
    discord_webhook_url = models.URLField(blank=True, default="")
    # The Shopify location whose stock the loja uses (gid); empty: the primary one, read at connection.
    location_id = models.CharField(max_length=100, blank=True, default="")
    # shop/redact (CONTRACT 13): keep the stock history (produtos, movements, alerts, ledger) or delete it.
    manter_historico = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.nome} ({self.shop_domain})"
