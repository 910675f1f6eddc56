from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.dispatch import Signal

from .fields import EncryptedTextField

shop_domain_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
    "O domínio deve ser do tipo minha-loja.myshopify.com.",
)


# Sent before a loja's rows are deleted, so an app above may move what must outlive the loja: by
# Loja.delete() before anything is collected (pre_delete comes too late: the cascade is already
# decided), and by shop/redact, which deletes them and keeps the loja as a tombstone.
loja_deleting = Signal()


class WebhookStatus(models.TextChoices):
    NOT_CONFIGURED = "nao_configurado"
    CONFIGURED = "configurado"
    INCOMPLETE = "incompleto"
    REMOVED = "removido"
    UNINSTALLED = "desinstalado"
    ERROR = "erro"


class OrigemToken(models.TextChoices):
    """How the loja's access token came: the install flow of ChegouHub's public app (expiring from
    2027, refreshed by us), or pasted from the merchant's own custom app (never expires)."""

    INSTALACAO = "instalacao"
    COLADO = "colado"


class EstadoConexao(models.TextChoices):
    OK = "ok"
    RECONECTAR = "reconectar"
    TOKEN_PERMANENTE = "token_permanente"


class Deposito(models.Model):
    """A stock shared by some of one user's lojas (CONTRACT 10): their produtos live here."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="depositos")
    nome = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.nome


class Loja(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lojas")
    nome = models.CharField(max_length=200)
    shop_domain = models.CharField(max_length=255, unique=True, validators=[shop_domain_validator])
    access_token = EncryptedTextField(blank=True, default="")
    # docs/tokens.md: install-flow tokens expire (an hour) and are renewed with the refresh token,
    # which rotates on use; pasted custom-app tokens have neither (both expiries null).
    origem_token = models.CharField(max_length=12, choices=OrigemToken.choices, default=OrigemToken.COLADO)
    token_expira_em = models.DateTimeField(null=True, blank=True)
    refresh_token = EncryptedTextField(blank=True, default="")
    refresh_token_expira_em = models.DateTimeField(null=True, blank=True)
    # Set when Shopify refused a refresh (uninstalled, revoked, expired): nothing calls Shopify for
    # this loja until the install flow runs again; webhooks are still applied.
    reconectar_desde = models.DateTimeField(null=True, blank=True)
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
    # Every loja belongs to exactly one depósito; a loja saved without one gets its own (save()).
    deposito = models.ForeignKey(Deposito, on_delete=models.PROTECT, related_name="lojas")
    # CONTRACT 10: when on, ChegouHub is the truth for the loja's `available` at its location.
    sincronizar_estoque = models.BooleanField(default=False)
    estoque_reserva = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.nome} ({self.shop_domain})"

    @property
    def estado_conexao(self) -> str:
        if self.reconectar_desde is not None:
            return EstadoConexao.RECONECTAR
        return EstadoConexao.TOKEN_PERMANENTE if self.origem_token == OrigemToken.COLADO else EstadoConexao.OK

    @property
    def tipo_token(self) -> str:
        """`expiravel` (install flow, renewed by us), `permanente_instalacao` (an older install's
        non-expiring token: Shopify stops it on 2027-01-01) or `app_personalizado` (pasted)."""
        if self.origem_token == OrigemToken.COLADO:
            return "app_personalizado"
        return "expiravel" if self.refresh_token or self.token_expira_em else "permanente_instalacao"

    def use_pasted_token(self, access_token: str) -> None:
        """A custom app's token, pasted by the merchant: it never expires and replaces any install
        token pair (a refresh token kept beside it would overwrite it at the next renewal)."""
        self.access_token = access_token
        self.origem_token = OrigemToken.COLADO
        self.token_expira_em = self.refresh_token_expira_em = None
        self.refresh_token = ""
        self.reconectar_desde = None

    def delete(self, *args, **kwargs):
        loja_deleting.send(sender=Loja, loja=self)
        return super().delete(*args, **kwargs)

    def save(self, *args, **kwargs):
        if self.deposito_id is None:  # a new loja gets its own depósito unless one is given
            self.deposito = Deposito.objects.create(owner_id=self.owner_id, nome=self.nome or self.shop_domain)
        super().save(*args, **kwargs)
