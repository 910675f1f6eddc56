from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from chegouhub.inventory.views import int_param

from .models import PedidoPrivacidade
from .selectors import TIPO_LABELS, report_summary, requests_for_user


class PedidoPrivacidadeSerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)
    tipo_descricao = serializers.SerializerMethodField()
    resumo = serializers.SerializerMethodField()

    class Meta:
        model = PedidoPrivacidade
        # `parametros` (the customer's e-mail and phone until done) is never served.
        fields = ["id", "loja_id", "tipo", "tipo_descricao", "status", "recebido_em", "concluido_em", "relatorio",
                  "resumo"]
        read_only_fields = fields

    def get_tipo_descricao(self, obj: PedidoPrivacidade) -> str:
        return TIPO_LABELS.get(obj.tipo, obj.tipo)

    def get_resumo(self, obj: PedidoPrivacidade) -> str:
        return report_summary(obj)


class PedidoPrivacidadeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Shopify's compliance requests of the user's lojas and what was done (`?loja_id=`)."""

    serializer_class = PedidoPrivacidadeSerializer

    def get_queryset(self):
        return requests_for_user(self.request.user, loja_id=int_param(self.request, "loja_id"))
