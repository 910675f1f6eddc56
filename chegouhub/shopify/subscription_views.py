"""Webhook management API under /api/sync-realtime/ (CONTRACT section 6).

Views only translate: validate the input, pick the user's lojas (another user's loja is 404),
call one action of `subscriptions`, serialize its result.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chegouhub.common.validation import INT64_MAX
from chegouhub.stores.selectors import lojas_for_user

from . import subscriptions
from .admin_api import ShopifyThrottled, ShopifyUnavailable

# Shopify could not be reached (or kept throttling): the gateway failed. Anything else Shopify
# refused (token, userErrors, unknown shop) is about this loja's data: 422.
UPSTREAM_DOWN = {ShopifyUnavailable.code, ShopifyThrottled.code}


def _base_domain_field(*, required: bool) -> serializers.CharField:
    return serializers.CharField(required=required, allow_blank=False, max_length=500)


class _BaseDomainMixin:
    def validate_base_domain(self, value: str) -> str:
        try:
            return subscriptions.normalize_base_domain(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class _PublicBaseDomainMixin:
    """Where Shopify will be told to send webhooks: an https:// public host name (CONTRACT section 8)."""

    def validate_base_domain(self, value: str) -> str:
        try:
            return subscriptions.public_base_domain(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ConfigureAllInput(_PublicBaseDomainMixin, serializers.Serializer):
    base_domain = _base_domain_field(required=False)
    force = serializers.BooleanField(required=False, default=False)


class ConfigureSingleInput(ConfigureAllInput):
    loja_id = serializers.IntegerField(min_value=1, max_value=INT64_MAX)


class StatusInput(_BaseDomainMixin, serializers.Serializer):
    base_domain = _base_domain_field(required=False)


class ConnectivityInput(serializers.Serializer):
    loja_id = serializers.IntegerField(min_value=1, max_value=INT64_MAX)


class CleanupInput(_BaseDomainMixin, serializers.Serializer):
    base_domain = _base_domain_field(required=True)


def _base_domain(data: dict) -> str:
    return data.get("base_domain") or subscriptions.normalize_base_domain(settings.WEBHOOK_BASE_DOMAIN)


def _active_lojas(user):
    return lojas_for_user(user).filter(ativo=True).order_by("pk")


def _user_loja(user, loja_id: int):
    loja = lojas_for_user(user).filter(pk=loja_id).first()
    if loja is None:
        raise Http404("Loja não encontrada.")
    return loja


def _validated(serializer_class, data) -> dict:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


_ERRO = inline_serializer("ErroWebhooks", {"erro": serializers.CharField()})
_OBJ = OpenApiTypes.OBJECT


def _failure_status(result) -> int:
    if result.erro_codigo in UPSTREAM_DOWN:
        return status.HTTP_502_BAD_GATEWAY
    if result.erro_codigo == "erro_interno":
        return status.HTTP_500_INTERNAL_SERVER_ERROR
    return status.HTTP_422_UNPROCESSABLE_ENTITY


class ConfigureWebhooksView(APIView):
    """POST {"base_domain"}: every active loja of the user."""

    @extend_schema(request=ConfigureAllInput, responses={200: _OBJ, 400: _ERRO},
                   summary="Configure the required Shopify webhooks of every loja of the user")
    def post(self, request):
        data = _validated(ConfigureAllInput, request.data)
        base = _base_domain(data)
        summary = subscriptions.configure_webhooks(lojas=_active_lojas(request.user), base_domain=base,
                                                   force=data["force"])
        return Response({"base_domain": base, "endereco": subscriptions.webhook_address(base),
                         **summary.as_dict()})


class ConfigureWebhookSingleView(APIView):
    """POST {"loja_id","base_domain"}: one loja. Failure: the result with {"erro"}, 422 when Shopify
    refused (token, userErrors), 502 when it could not be reached."""

    @extend_schema(request=ConfigureSingleInput, responses={200: _OBJ, 400: _ERRO, 404: _ERRO, 422: _OBJ, 502: _OBJ},
                   summary="Configure the required Shopify webhooks of one loja")
    def post(self, request):
        data = _validated(ConfigureSingleInput, request.data)
        loja = _user_loja(request.user, data["loja_id"])
        base = _base_domain(data)
        summary = subscriptions.configure_webhooks(lojas=[loja], base_domain=base, force=data["force"])
        result = summary.results[0]
        body = {"base_domain": base, "endereco": subscriptions.webhook_address(base), **result.as_dict()}
        return Response(body, status=status.HTTP_200_OK if result.ok else _failure_status(result))


class WebhooksStatusView(APIView):
    """GET [?base_domain=]: per loja, the subscriptions Shopify has, the required topics missing, ok."""

    @extend_schema(parameters=[OpenApiParameter("base_domain", OpenApiTypes.STR,
                                                description="default: WEBHOOK_BASE_DOMAIN")],
                   responses={200: _OBJ, 400: _ERRO}, summary="Webhook subscriptions of every loja of the user")
    def get(self, request):
        data = _validated(StatusInput, request.query_params)
        base = _base_domain(data)
        summary = subscriptions.webhooks_status(lojas=_active_lojas(request.user), base_domain=base)
        lojas = []
        for r in summary.results:
            lojas.append({
                "loja_id": r.loja_id,
                "nome": r.nome,
                "shop_domain": r.shop_domain,
                "webhook_status": r.new_status or r.webhook_status,
                "assinaturas": r.assinaturas,
                "topicos_obrigatorios": list(subscriptions.REQUIRED_TOPICS),
                "topicos_ausentes": r.topicos_ausentes if r.ok else list(subscriptions.REQUIRED_TOPICS),
                "enderecos_errados": r.enderecos_errados,
                "ok": r.ok and not r.topicos_ausentes,
                "erro": r.erro,
            })
        return Response({"base_domain": base, "endereco": subscriptions.webhook_address(base),
                         "total": len(lojas), "ok": all(item["ok"] for item in lojas), "lojas": lojas})


class TestConnectivityView(APIView):
    """GET ?loja_id=: {"loja_id","conectado","shop","latencia_ms","erro"}."""

    @extend_schema(parameters=[OpenApiParameter("loja_id", OpenApiTypes.INT, required=True)],
                   responses={200: _OBJ, 400: _ERRO, 404: _ERRO}, summary="Test the connection to a loja's Shopify")
    def get(self, request):
        data = _validated(ConnectivityInput, request.query_params)
        loja = _user_loja(request.user, data["loja_id"])
        result = subscriptions.test_connectivity(lojas=[loja]).results[0]
        return Response({
            "loja_id": loja.pk,
            "shop_domain": loja.shop_domain,
            "conectado": bool(result.conectado),
            "shop": result.shop or {},
            "latencia_ms": result.latencia_ms,
            "erro": result.erro,
            "erro_codigo": result.erro_codigo,
        })


class CleanupWebhooksView(APIView):
    """DELETE {"base_domain"}: removes the subscriptions whose address is under that domain."""

    @extend_schema(request=CleanupInput, responses={200: _OBJ, 400: _ERRO},
                   summary="Remove the Shopify webhook subscriptions under an old base domain")
    def delete(self, request):
        payload = request.data if request.data else request.query_params
        data = _validated(CleanupInput, payload)
        summary = subscriptions.cleanup_webhooks(lojas=_active_lojas(request.user), base_domain=data["base_domain"])
        body = summary.as_dict()
        body["base_domain"] = data["base_domain"]
        body["removidos_total"] = sum(len(r.removidos) for r in summary.results)
        return Response(body)
