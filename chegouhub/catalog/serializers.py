from __future__ import annotations

from rest_framework import serializers

from .models import Importacao, VarianteShopify


class VarianteSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)
    produto_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = VarianteShopify
        fields = ["id", "loja_id", "produto_id", "shopify_variant_id", "inventory_item_id", "sku", "titulo",
                  "shopify_disponivel", "sincronizado_em"]
        read_only_fields = fields


class ImportacaoSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Importacao
        fields = ["id", "loja_id", "status", "modo", "total", "processados", "criados", "vinculados", "sem_sku",
                  "variantes_sem_sku", "erros", "requisicoes", "custo", "limitadas", "criada_em", "iniciada_em",
                  "concluida_em"]
        read_only_fields = fields
