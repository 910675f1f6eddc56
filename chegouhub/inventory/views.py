from __future__ import annotations

from django.db.models import Q
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from chegouhub.common.pagination import HistoryPagination, StandardPagination
from chegouhub.common.validation import INT64_MAX, INT64_MIN, range_message
from chegouhub.stores.models import Loja

from .models import Alerta, Mapeamento, Movimentacao, Origem, Produto
from .serializers import (
    AlertaSerializer,
    MapeamentoSerializer,
    MovimentacaoCreateSerializer,
    MovimentacaoSerializer,
    ProdutoSerializer,
)
from .produtos import add_produto, edit_produto
from .services import adjust_stock


def int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({name: "Deve ser um número inteiro."}) from None
    if not INT64_MIN <= value <= INT64_MAX:  # no id is beyond 64 bits
        raise serializers.ValidationError({name: range_message(INT64_MIN, INT64_MAX)})
    return value


def choice_param(request, name: str, choices) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise serializers.ValidationError({name: f"Valor inválido; use um de: {', '.join(choices)}."})
    return raw


class OwnedByUserMixin:
    """Everything hangs under a loja; a user sees only their own lojas' rows.

    `deposito_path`: how the model reaches its depósito. With one, `?loja_id=` means the loja's
    depósito (CONTRACT 10: a loja's stock is its depósito's) and `?deposito_id=` filters too;
    without one (mapeamentos, which belong to a loja), `?loja_id=` is that loja's rows.
    """

    deposito_path: str | None = None

    def owned(self, model):
        loja_id = int_param(self.request, "loja_id")
        if self.deposito_path is None:
            qs = model.objects.filter(loja__owner_id=self.request.user.pk)
            return qs.filter(loja_id=loja_id) if loja_id is not None else qs
        # Owned through the depósito: a movement of a loja deleted from it (loja null) stays visible.
        qs = model.objects.filter(**{f"{self.deposito_path.removesuffix('_id')}__owner_id": self.request.user.pk})
        if loja_id is not None:
            qs = qs.filter(**{f"{self.deposito_path}__in": Loja.objects.filter(pk=loja_id).values("deposito_id")})
        deposito_id = int_param(self.request, "deposito_id")
        if deposito_id is not None:
            qs = qs.filter(**{self.deposito_path: deposito_id})
        return qs


class ProdutoViewSet(OwnedByUserMixin, viewsets.ModelViewSet):
    serializer_class = ProdutoSerializer
    deposito_path = "deposito_id"

    def get_queryset(self):
        qs = self.owned(Produto)
        search = self.request.query_params.get("search", "").strip()
        if search:
            qs = qs.filter(Q(sku__icontains=search) | Q(nome__icontains=search))
        return qs.order_by("id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = add_produto(
            loja=data["loja"],
            sku=data["sku"],
            nome=data["nome"],
            estoque_minimo=data.get("estoque_minimo", 0),
            estoque_inicial=data.get("estoque_atual", 0),
        )

    def perform_update(self, serializer):
        serializer.instance = edit_produto(produto=serializer.instance, **serializer.validated_data)

    @action(detail=True, methods=["post"], serializer_class=MovimentacaoCreateSerializer)
    def movimentacoes(self, request, pk=None):
        produto = self.get_object()
        body = MovimentacaoCreateSerializer(data=request.data, context={"produto": produto})
        body.is_valid(raise_exception=True)
        movement = adjust_stock(produto=produto, **body.validated_data)
        return Response(MovimentacaoSerializer(movement).data, status=status.HTTP_201_CREATED)


class MovimentacaoViewSet(OwnedByUserMixin, viewsets.ReadOnlyModelViewSet):
    """The audit trail grows with every sale: paged by cursor from the (deposito, id) indexes."""

    serializer_class = MovimentacaoSerializer
    pagination_class = HistoryPagination
    deposito_path = "deposito_id"  # the movement's own copy of its produto's (migration 0008)

    def get_queryset(self):
        qs = self.owned(Movimentacao)
        produto_id = int_param(self.request, "produto_id")
        if produto_id is not None:
            qs = qs.filter(produto_id=produto_id)
        origem = choice_param(self.request, "origem", Origem.values)
        if origem:
            qs = qs.filter(origem=origem)
        return qs.order_by("-id")


class MapeamentoViewSet(OwnedByUserMixin, viewsets.ModelViewSet):
    serializer_class = MapeamentoSerializer

    def get_queryset(self):
        return self.owned(Mapeamento).order_by("id")


class AlertaViewSet(OwnedByUserMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertaSerializer
    deposito_path = "produto__deposito_id"

    @property
    def paginator(self):
        # Active alerts are at most two a produto: numbered pages, critical first. Resolved ones
        # pile up with history: by cursor, newest first.
        if not hasattr(self, "_paginator"):
            active = self.request.query_params.get("status") == "ativo"
            self._paginator = StandardPagination() if active else HistoryPagination()
        return self._paginator

    def get_queryset(self):
        qs = self.owned(Alerta)
        status_ = choice_param(self.request, "status", ["ativo", "resolvido"])
        if status_:
            qs = qs.filter(status=status_)
        # Critical first: what the dashboard shows on top.
        return qs.order_by("-prioridade", "-id") if status_ == "ativo" else qs.order_by("-id")
