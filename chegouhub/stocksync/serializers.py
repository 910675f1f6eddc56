from __future__ import annotations

from rest_framework import serializers

from chegouhub.common.validation import no_control_characters
from chegouhub.stores.models import Deposito, Loja

from .models import Divergencia


class DepositoSerializer(serializers.ModelSerializer):
    nome = serializers.CharField(max_length=200, validators=[no_control_characters])
    # Writing `lojas` moves those lojas (and their produtos) in; a loja is never taken out by
    # leaving it off the list: it leaves by joining another depósito (or a new one).
    lojas = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Loja.objects.none())

    class Meta:
        model = Deposito
        fields = ["id", "nome", "lojas"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        fields["lojas"].child_relation.queryset = Loja.objects.filter(owner_id=request.user.pk) if request else \
            Loja.objects.none()
        return fields


class DivergenciaSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)
    produto_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Divergencia
        fields = ["id", "loja_id", "produto_id", "sku", "inventory_item_id", "shopify_tinha", "esperado", "created_at"]
