"""OpenAPI (drf-spectacular) descriptions for the API views that drf-spectacular cannot infer.

Plain APIViews carry no serializer, so their request and response shapes are declared here from
outside (OpenApiViewExtension), keeping the views themselves free of schema decorations. The
Shopify webhook receiver is a plain Django view (it must read the raw bytes before anything
parses them); it is added to the document by `add_webhook_receiver`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, lenient with plain APIViews that declare no serializer:
    they are documented as taking and returning a JSON object instead of raising a generation error.
    Views that need more precision get an extension below."""

    def _bare(self) -> bool:
        view = self.view
        return not isinstance(view, GenericAPIView) and not any(
            getattr(view, name, None) for name in ("get_serializer", "get_serializer_class", "serializer_class")
        )

    def _get_serializer(self):
        if self._bare():
            return None
        return super()._get_serializer()

    def get_request_serializer(self):
        serializer = super().get_request_serializer()
        if serializer is None and self._bare() and self.method in ("POST", "PUT", "PATCH"):
            return OpenApiTypes.OBJECT
        return serializer

    def get_response_serializers(self):
        serializer = super().get_response_serializers()
        if serializer is None and self._bare() and self.method != "DELETE":
            return OpenApiTypes.OBJECT
        return serializer


_ERRO = inline_serializer("Erro", {"erro": serializers.CharField()})


def _credentials():
    from chegouhub.accounts.views import CredentialsSerializer

    return CredentialsSerializer


class TokenViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.TokenView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                request=_credentials(),
                responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}), 400: _ERRO},
                summary="Obtain an API token (Authorization: Token <token>)",
            )
            def post(self, request):
                return super().post(request)

        return Fixed


class LoginViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.LoginView"

    def view_replacement(self):
        from chegouhub.accounts.views import UserSerializer

        class Fixed(self.target_class):
            @extend_schema(
                request=_credentials(),
                responses={
                    200: inline_serializer(
                        "LoginResponse", {"session_key": serializers.CharField(), "user": UserSerializer()}
                    ),
                    400: _ERRO,
                },
                summary="Session login (sets the session cookie)",
            )
            def post(self, request):
                return super().post(request)

        return Fixed


class LogoutViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.LogoutView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(request=None, responses={204: None}, summary="Session logout")
            def post(self, request):
                return super().post(request)

        return Fixed


class WebhookStatsViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.shopify.views.WebhookStatsView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                parameters=[
                    OpenApiParameter("days", OpenApiTypes.INT, description="1..365, default 7"),
                    OpenApiParameter("loja_id", OpenApiTypes.INT),
                ],
                responses={
                    200: inline_serializer(
                        "WebhookStats",
                        {
                            "total": serializers.IntegerField(),
                            "processados": serializers.IntegerField(),
                            "duplicados": serializers.IntegerField(),
                            "ignorados": serializers.IntegerField(),
                            "falhas": serializers.IntegerField(),
                            "hmac_invalido": serializers.IntegerField(),
                            "por_topico": serializers.DictField(child=serializers.IntegerField()),
                            "skus_nao_mapeados": serializers.ListField(child=serializers.DictField()),
                        },
                    ),
                    400: _ERRO,
                },
                summary="Webhook counts over the last N days",
            )
            def get(self, request):
                return super().get(request)

        return Fixed


class EventsViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.realtime.views.EventsView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                parameters=[
                    OpenApiParameter("since", OpenApiTypes.INT, description="last event id seen (default 0)"),
                    OpenApiParameter("loja_id", OpenApiTypes.INT),
                    OpenApiParameter("limit", OpenApiTypes.INT, description="1..1000, default 500"),
                ],
                responses={
                    200: inline_serializer(
                        "EventsPage",
                        {"events": serializers.ListField(child=serializers.DictField()),
                         "last_id": serializers.IntegerField()},
                    ),
                    400: _ERRO,
                },
                summary="Polling fallback for the real-time events",
            )
            def get(self, request):
                return super().get(request)

        return Fixed


WEBHOOK_PATH = "/api/estoque/webhook/shopify/"


def add_webhook_receiver(result, generator, request, public):
    """Postprocessing hook: describe the (non-DRF) Shopify webhook receiver."""
    header = lambda name, required=True: {  # noqa: E731
        "in": "header", "name": name, "required": required, "schema": {"type": "string"}
    }
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Erro"}}}}
    result.setdefault("paths", {})[WEBHOOK_PATH] = {
        "post": {
            "operationId": "shopify_webhook",
            "summary": "Shopify webhook receiver (every topic; HMAC-signed by Shopify)",
            "tags": ["webhook"],
            "security": [{}],
            "parameters": [
                header("X-Shopify-Topic"),
                header("X-Shopify-Hmac-Sha256"),
                header("X-Shopify-Shop-Domain"),
                header("X-Shopify-Webhook-Id"),
                header("X-Shopify-Event-Id", False),
                header("X-Shopify-API-Version", False),
                header("X-Shopify-Triggered-At", False),
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "processed, accepted, duplicate or ignored"},
                **{code: {"description": text, **err} for code, text in (
                    ("400", "missing header or body not a JSON object"),
                    ("401", "wrong HMAC"),
                    ("403", "shop domain not *.myshopify.com"),
                    ("404", "shop not registered or not active"),
                    ("413", "body over 5 MiB"),
                    ("429", "too many failed requests from this address"),
                    ("503", "database unavailable; Shopify retries"),
                )},
            },
        }
    }
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Erro", {"type": "object", "properties": {"erro": {"type": "string"}}, "required": ["erro"]})
    return result
