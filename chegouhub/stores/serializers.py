from __future__ import annotations

from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from .models import Loja, shop_domain_validator


class DomainField(serializers.CharField):
    def to_internal_value(self, data):
        return super().to_internal_value(data).strip().lower()


class LojaSerializer(serializers.ModelSerializer):
    shop_domain = DomainField(
        max_length=255,
        validators=[
            shop_domain_validator,
            UniqueValidator(queryset=Loja.objects.all(), message="Já existe uma loja com este domínio."),
        ],
    )
    access_token = serializers.CharField(write_only=True, required=False, allow_blank=True)
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = Loja
        fields = ["id", "nome", "shop_domain", "access_token", "webhook_secret", "ativo", "webhook_status",
                  "api_version", "slack_webhook_url", "discord_webhook_url", "manter_historico"]
        read_only_fields = ["webhook_status"]
