"""OpenAPI (drf-spectacular): the project's AutoSchema and the error shape every app shares.

Plain APIViews carry no serializer, so each app declares their request and response shapes from
outside in its own `schema.py` (OpenApiViewExtension, imported by its AppConfig.ready()), keeping
the views free of schema decorations and `common` free of domain apps.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import inline_serializer
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


ERRO = inline_serializer("Erro", {"erro": serializers.CharField()})
