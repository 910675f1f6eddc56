"""OpenAPI descriptions of the webhook views (registered by ShopifyConfig.ready()). The Shopify
webhook receiver is a plain Django view (it must read the raw bytes before anything parses them);
it is added to the document by `add_webhook_receiver`, a postprocessing hook."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from django.conf import settings

from chegouhub.common.schema import ERRO as _ERRO


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
                            "linhas_invalidas": serializers.ListField(child=serializers.DictField()),
                        },
                    ),
                    400: _ERRO,
                },
                summary="Webhook counts over the last N days",
            )
            def get(self, request):
                return super().get(request)

        return Fixed


def add_webhook_receiver(result, generator, request, public):
    """Postprocessing hook: describe the (non-DRF) Shopify webhook receiver."""
    header = lambda name, required=True: {  # noqa: E731
        "in": "header", "name": name, "required": required, "schema": {"type": "string"}
    }
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Erro"}}}}
    result.setdefault("paths", {})[settings.WEBHOOK_PATH] = {
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
                    ("400", "missing or repeated header, or body not a JSON object"),
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
