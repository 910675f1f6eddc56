from __future__ import annotations

from rest_framework import serializers

from .models import Loja


class LojaSerializer(serializers.ModelSerializer):
    access_token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)

    class Meta:
        model = Loja
        fields = ["id", "nome", "shop_domain", "access_token", "webhook_secret", "ativo", "webhook_status",
                  "api_version", "slack_webhook_url", "discord_webhook_url"]
        read_only_fields = ["webhook_status"]

    def validate_shop_domain(self, value: str) -> str:
        value = value.strip().lower()
        if not value.endswith(".myshopify.com"):
            raise serializers.ValidationError("O domínio deve terminar em .myshopify.com.")
        return value
