from __future__ import annotations

from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from chegouhub.common.pagination import HistoryPagination
from chegouhub.inventory.views import int_param
from chegouhub.stores.models import Deposito

from . import depositos
from .models import Divergencia
from .selectors import recent_pushes, sync_status
from .serializers import DepositoSerializer, DivergenciaSerializer


class DepositoViewSet(viewsets.ModelViewSet):
    """`/api/depositos/`: a stock shared by some of the user's lojas (CONTRACT 10)."""

    serializer_class = DepositoSerializer

    def get_queryset(self):
        return Deposito.objects.filter(owner_id=self.request.user.pk).prefetch_related("lojas").order_by("id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = depositos.create_deposito(owner=self.request.user, nome=data["nome"],
                                                        lojas=data.get("lojas", []))

    def perform_update(self, serializer):
        data = serializer.validated_data
        with transaction.atomic():
            deposito = serializer.instance
            if "nome" in data:
                deposito.nome = data["nome"]
                deposito.save(update_fields=["nome"])
            for loja in data.get("lojas", []):
                depositos.move_loja(loja=loja, deposito=deposito)
        serializer.instance = Deposito.objects.prefetch_related("lojas").get(pk=deposito.pk)

    def perform_destroy(self, instance):
        if instance.lojas.exists():
            raise ValidationError({"lojas": ["O depósito ainda tem lojas; mova-as para outro depósito antes."]})
        instance.delete()


class SincronizacaoView(APIView):
    """`GET /api/estoque/sincronizacao/[?loja_id=]`: per loja, the state of its pushes to Shopify."""

    def get(self, request):
        loja_id = int_param(request, "loja_id")
        body = {"lojas": sync_status(user=request.user, loja_id=loja_id)}
        if loja_id is not None:  # per produto: what waits and the last pushes
            body["produtos"] = recent_pushes(user=request.user, loja_id=loja_id)
        return Response(body)


class DivergenciaViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`GET /api/estoque/divergencias/[?loja_id=]`: quantities found changed on Shopify's side."""

    serializer_class = DivergenciaSerializer
    pagination_class = HistoryPagination  # they accumulate with history: by cursor, no count

    def get_queryset(self):
        qs = Divergencia.objects.filter(loja__owner_id=self.request.user.pk)
        loja_id = int_param(self.request, "loja_id")
        return qs.filter(loja_id=loja_id) if loja_id is not None else qs
