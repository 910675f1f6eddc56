from __future__ import annotations

from rest_framework import serializers

from chegouhub.common.apiversion import API_VERSION_MESSAGE, is_valid_api_version
from chegouhub.common.validation import no_control_characters

from . import ownership
from .fields import credential_is_sendable
from .models import Deposito, Loja, shop_domain_validator


class DomainField(serializers.CharField):
    def to_internal_value(self, data):
        return super().to_internal_value(data).strip().lower()


CREDENTIAL_MAX_LENGTH = 255  # CONTRACT 8: tokens and secrets are at most 255 characters
CREDENTIAL_CHARACTERS_MESSAGE = "Use apenas caracteres ASCII visíveis, como os tokens e segredos da Shopify."


def printable_ascii(value: str) -> None:
    # An HTTP header carries the token: anything else could not be sent to Shopify (and once made it 500).
    if isinstance(value, str) and not credential_is_sendable(value):
        raise serializers.ValidationError(CREDENTIAL_CHARACTERS_MESSAGE)


class CredentialField(serializers.CharField):
    """An access token or webhook secret as typed: trimmed, printable ASCII, at most 255 characters."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", CREDENTIAL_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)
        self.validators.append(printable_ascii)


class LojaSerializer(serializers.ModelSerializer):
    # Uniqueness is ownership.py's: a domain held by another user's never-verified loja can be claimed.
    shop_domain = DomainField(max_length=255, validators=[shop_domain_validator])
    nome = serializers.CharField(max_length=200, validators=[no_control_characters])
    # A path segment of every Admin API URL of the loja: checked, never passed through.
    api_version = serializers.CharField(max_length=20, required=False, allow_blank=True)
    access_token = CredentialField(write_only=True, required=False, allow_blank=True)
    webhook_secret = CredentialField(write_only=True, required=False, allow_blank=True)
    location_id = serializers.RegexField(r"^(gid://shopify/Location/\d+)?$", max_length=100, required=False,
                                         allow_blank=True,
                                         error_messages={"invalid": "Use o id de uma location da Shopify "
                                                                    "(gid://shopify/Location/123)."})

    # CONTRACT 10: given on create, the loja joins that depósito (one of the user's); otherwise it
    # gets its own. Moving an existing loja goes through /api/depositos/ (its produtos move too).
    deposito_id = serializers.PrimaryKeyRelatedField(source="deposito", required=False,
                                                     queryset=Deposito.objects.none())
    estoque_reserva = serializers.IntegerField(required=False, min_value=0, max_value=10**12)
    # CONTRACT 9: ok | reconectar | token_permanente, the access token's expiry (null: never), and its kind.
    estado_conexao = serializers.CharField(read_only=True)
    tipo_token = serializers.CharField(read_only=True)

    class Meta:
        model = Loja
        fields = ["id", "nome", "shop_domain", "access_token", "webhook_secret", "ativo", "webhook_status",
                  "api_version", "slack_webhook_url", "discord_webhook_url", "verificado_em", "location_id",
                  "manter_historico", "deposito_id", "sincronizar_estoque", "estoque_reserva", "estado_conexao",
                  "token_expira_em", "tipo_token"]
        read_only_fields = ["webhook_status", "verificado_em", "token_expira_em"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        fields["deposito_id"].queryset = Deposito.objects.filter(owner_id=getattr(request, "user", None) and
                                                                 request.user.pk)
        if self.instance is not None:
            fields["deposito_id"].read_only = True
        return fields

    def validate_shop_domain(self, value: str) -> str:
        holder = ownership.domain_holder(value, exclude_pk=getattr(self.instance, "pk", None))
        request = self.context.get("request")
        if holder is None:
            return value
        claimable = request is not None and ownership.claimable_by(holder, request.user)
        if not claimable:
            raise serializers.ValidationError(ownership.DOMAIN_TAKEN)
        if self.instance is not None:
            # A new loja may claim a held domain with a token that opens it (ownership.create_loja); an
            # existing one is refused, naming the ways that prove the claim (ownership.py's docstring).
            raise serializers.ValidationError(ownership.DOMAIN_HELD_NEEDS_PROOF)
        return value

    def validate_api_version(self, value: str) -> str:
        value = value.strip()
        if value and not is_valid_api_version(value):
            raise serializers.ValidationError(API_VERSION_MESSAGE)
        return value
