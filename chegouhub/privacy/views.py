from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from chegouhub.inventory.views import int_param

from .models import PedidoPrivacidade
from .selectors import requests_for_user


class PedidoPrivacidadeSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = PedidoPrivacidade
        # `parametros` (the customer's e-mail and phone until done) is never served.
        fields = ["id", "loja_id", "tipo", "status", "recebido_em", "concluido_em", "relatorio"]
        read_only_fields = fields


class PedidoPrivacidadeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Shopify's compliance requests of the user's lojas and what was done (`?loja_id=`)."""

    serializer_class = PedidoPrivacidadeSerializer

    def get_queryset(self):
        return requests_for_user(self.request.user, loja_id=int_param(self.request, "loja_id"))
