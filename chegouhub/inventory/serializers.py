from __future__ import annotations

from rest_framework import serializers

from chegouhub.common.validation import (
    ColumnIntegerField,
    column_range,
    no_control_characters,
    no_control_characters_but_whitespace,
)
from chegouhub.stores.models import Deposito
from chegouhub.stores.selectors import lojas_for_user

from .models import Alerta, Mapeamento, Movimentacao, Produto


class UserLojaField(serializers.PrimaryKeyRelatedField):
    """A loja id that must be one of the requesting user's lojas."""

    def get_queryset(self):
        return lojas_for_user(self.context["request"].user)


class UserProdutoField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return Produto.objects.filter(loja__owner_id=self.context["request"].user.pk)


# A manual movement's size: far beyond any real stock, and far inside a 64-bit column, so a
# single movement cannot overflow it (the resulting stock is checked too).
MOVEMENT_MAX = 10**12


class UserDepositoField(serializers.PrimaryKeyRelatedField):
    """A depósito id that must be one of the requesting user's."""

    def get_queryset(self):
        return Deposito.objects.filter(owner_id=self.context["request"].user.pk)


class ProdutoSerializer(serializers.ModelSerializer):
    # On create: `loja_id` means that loja's depósito; or `deposito_id` (CONTRACT 10).
    loja_id = UserLojaField(source="loja", required=False)
    deposito_id = UserDepositoField(source="deposito", required=False)
    sku = serializers.CharField(max_length=255, validators=[no_control_characters])
    nome = serializers.CharField(max_length=255, validators=[no_control_characters])
    estoque_atual = ColumnIntegerField(model=Produto, column="estoque_atual", required=False, default=0)
    estoque_minimo = ColumnIntegerField(model=Produto, column="estoque_minimo", required=False, default=0,
                                        min_value=0)

    class Meta:
        model = Produto
        fields = ["id", "loja_id", "deposito_id", "sku", "nome", "estoque_atual", "estoque_minimo"]
        validators: list = []  # uniqueness checked below with a clear message

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # After creation, stock changes only through the movement endpoint.
            fields["estoque_atual"].read_only = True
            fields["loja_id"].read_only = True
            fields["deposito_id"].read_only = True
        return fields

    def validate(self, attrs):
        if self.instance is None:
            attrs["loja"], attrs["deposito"] = _home(attrs.get("loja"), attrs.get("deposito"))
        deposito = attrs.get("deposito") or self.instance.deposito
        sku = attrs.get("sku")
        if sku is not None:
            clash = Produto.objects.filter(deposito=deposito, sku=sku)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError({"sku": "Já existe um produto com este SKU neste depósito."})
        return attrs


def _home(loja, deposito):
    """A new produto's loja and depósito: the loja's depósito, or the depósito's first loja."""
    if loja is None and deposito is None:
        raise serializers.ValidationError({"loja_id": "Informe loja_id ou deposito_id."})
    if loja is not None and deposito is not None and loja.deposito_id != deposito.pk:
        raise serializers.ValidationError({"deposito_id": "A loja não pertence a este depósito."})
    if loja is None:
        loja = deposito.lojas.order_by("id").first()
        if loja is None:
            raise serializers.ValidationError({"deposito_id": "O depósito não tem lojas."})
    return loja, loja.deposito


class MovimentacaoCreateSerializer(serializers.Serializer):
    """`context["produto"]`: the produto moved (the resulting stock must fit its column)."""

    quantidade = serializers.IntegerField(min_value=-MOVEMENT_MAX, max_value=MOVEMENT_MAX)
    motivo = serializers.CharField(max_length=255, validators=[no_control_characters_but_whitespace])

    def validate_quantidade(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("A quantidade deve ser diferente de zero.")
        produto = self.context.get("produto")
        if produto is not None:
            low, high = column_range(Produto, "estoque_atual")
            if not low <= produto.estoque_atual + value <= high:
                raise serializers.ValidationError(
                    f"O estoque resultante ({produto.estoque_atual + value}) ficaria fora do intervalo "
                    f"permitido ({low} a {high}).")
        return value


class MovimentacaoSerializer(serializers.ModelSerializer):
    produto_id = serializers.IntegerField(read_only=True)
    loja_id = serializers.IntegerField(read_only=True, allow_null=True)  # null: a loja since deleted from its depósito

    class Meta:
        model = Movimentacao
        fields = ["id", "produto_id", "loja_id", "quantidade", "estoque_anterior", "estoque_atual", "origem",
                  "referencia", "motivo", "created_at"]
        read_only_fields = fields


class MapeamentoSerializer(serializers.ModelSerializer):
    loja_id = UserLojaField(source="loja")
    produto_id = UserProdutoField(source="produto")
    shopify_sku = serializers.CharField(max_length=255, validators=[no_control_characters])

    class Meta:
        model = Mapeamento
        fields = ["id", "loja_id", "shopify_sku", "produto_id"]
        validators: list = []

    def validate(self, attrs):
        loja = attrs.get("loja") or self.instance.loja
        produto = attrs.get("produto") or self.instance.produto
        if produto.deposito_id != loja.deposito_id:
            raise serializers.ValidationError({"produto_id": "O produto não pertence ao depósito desta loja."})
        sku = attrs.get("shopify_sku", getattr(self.instance, "shopify_sku", None))
        clash = Mapeamento.objects.filter(loja=loja, shopify_sku=sku)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"shopify_sku": "Este SKU da Shopify já está mapeado nesta loja."})
        return attrs


class AlertaSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)
    produto_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Alerta
        fields = ["id", "loja_id", "produto_id", "tipo", "prioridade", "status", "estoque_atual", "estoque_minimo",
                  "created_at", "resolvido_em"]
        read_only_fields = fields
