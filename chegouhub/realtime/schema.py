"""OpenAPI description of the polling view (registered by RealtimeConfig.ready())."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from chegouhub.common.schema import ERRO as _ERRO


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
