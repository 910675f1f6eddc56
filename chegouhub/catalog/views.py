"""Catalog API (CONTRACT section 9): start an import, follow it, read the variant links.

Views only translate; the import itself runs in the background (`import_catalog --worker`), so a
request never waits on Shopify.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from chegouhub.inventory.views import int_param
from chegouhub.stores.selectors import lojas_for_user
from chegouhub.stores.fields import UNSENDABLE_TOKEN, credential_is_sendable
from chegouhub.stores.serializers import CredentialField

from .models import Importacao, VarianteShopify
from .serializers import ImportacaoSerializer, VarianteSerializer
from .services import queue_import


class ImportarCatalogoView(APIView):
    """POST /api/lojas/{id}/importar-catalogo/ -> 202 {"importacao_id"} (the loja's pending one, if any)."""

    @extend_schema(request=None, responses={202: inline_serializer("ImportacaoCriada", {
        "importacao_id": serializers.IntegerField(), "status": serializers.CharField()})},
        summary="Queue an import of the loja's Shopify catalog")
    def post(self, request, loja_id: int):
        loja = lojas_for_user(request.user).filter(pk=loja_id).first()
        if loja is None:
            raise Http404("Loja não encontrada.")
        if not loja.access_token:
            return Response({"erro": "A loja não tem token de acesso da Shopify; conecte-a antes."},
                            status=status.HTTP_400_BAD_REQUEST)
        if not loja.ativo:
            return Response({"erro": "A loja está inativa."}, status=status.HTTP_400_BAD_REQUEST)
        importacao, _created = queue_import(loja=loja, user=request.user)
        return Response({"importacao_id": importacao.pk, "status": importacao.status}, status=status.HTTP_202_ACCEPTED)


class ImportacaoViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ImportacaoSerializer

    def get_queryset(self):
        qs = Importacao.objects.filter(loja__owner_id=self.request.user.pk)
        loja_id = int_param(self.request, "loja_id")
        if loja_id is not None:
            qs = qs.filter(loja_id=loja_id)
        return qs.order_by("-id")


class VarianteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VarianteSerializer

    def get_queryset(self):
        qs = VarianteShopify.objects.filter(loja__owner_id=self.request.user.pk)
        for name in ("loja_id", "produto_id"):
            value = int_param(self.request, name)
            if value is not None:
                qs = qs.filter(**{name: value})
        search = self.request.query_params.get("search", "").strip()
        if search:
            qs = qs.filter(sku__icontains=search) | qs.filter(titulo__icontains=search)
        return qs.order_by("id")


class ConectarTokenInput(serializers.Serializer):
    shop_domain = serializers.CharField(max_length=255)
    access_token = CredentialField()  # printable ASCII, at most 255 characters (CONTRACT 8)
    webhook_secret = CredentialField()
    nome = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ConectarLojaView(APIView):
    """POST /api/lojas/conectar/ {"shop_domain","access_token","webhook_secret"[,"nome"]}: a custom app's
    token, tested with the connectivity call before it is saved. 201 {"loja","importacao_id","shop"};
    422 when Shopify refuses the token (nothing saved)."""

    @extend_schema(request=ConectarTokenInput, responses={201: inline_serializer("LojaConectada", {
        "loja": serializers.DictField(), "importacao_id": serializers.IntegerField(),
        "shop": serializers.DictField()})}, summary="Connect a loja with a pasted custom-app token")
    def post(self, request):
        from chegouhub.stores.oauth import InstallRefused
        from chegouhub.stores.serializers import LojaSerializer

        from .install import connect_with_token

        body = ConectarTokenInput(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            loja, importacao, shop = connect_with_token(user=request.user, **body.validated_data)
        except InstallRefused as exc:
            return Response({"erro": exc.message}, status=exc.status)
        return Response({"loja": LojaSerializer(loja).data, "importacao_id": importacao.pk, "shop": shop},
                        status=status.HTTP_201_CREATED)


class LocaisView(APIView):
    """GET /api/lojas/{id}/locais/: the shop's active locations (asked of Shopify now) and the loja's
    `location_id`. The choice is saved with PATCH /api/lojas/{id}/ {"location_id"}."""

    @extend_schema(responses={200: inline_serializer("LocaisDaLoja", {
        "location_id": serializers.CharField(), "locais": serializers.ListField(child=serializers.DictField())})},
        summary="The Shopify locations a loja may take its stock from")
    def get(self, request, loja_id: int):
        import asyncio

        from chegouhub.shopify.admin_api import ShopifyError
        from chegouhub.shopify.tokens import client_for_loja

        from . import remote

        loja = lojas_for_user(request.user).filter(pk=loja_id).first()
        if loja is None:
            raise Http404("Loja não encontrada.")
        if not credential_is_sendable(loja.access_token or ""):  # stored before input was checked
            raise serializers.ValidationError({"access_token": [UNSENDABLE_TOKEN.format(id=loja.pk)]})

        async def fetch():
            async with client_for_loja(loja, max_attempts=2, throttle_budget=5.0) as client:
                return await remote.list_locations(client)

        try:
            locais = asyncio.run(fetch())
        except ShopifyError as exc:
            return Response({"erro": exc.message}, status=status.HTTP_502_BAD_GATEWAY)
        return Response({"location_id": loja.location_id, "locais": locais})
