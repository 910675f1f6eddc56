from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chegouhub.common.validation import INT64_MAX, INT64_MIN

from .events import serialize_event
from .selectors import events_after
from .status import channel_layer_available


class EventsQuery(serializers.Serializer):
    # Ids are 64-bit: anything beyond is refused naming the parameter, never sent to the database.
    since = serializers.IntegerField(min_value=0, max_value=INT64_MAX, default=0)
    loja_id = serializers.IntegerField(required=False, min_value=INT64_MIN, max_value=INT64_MAX)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=500)


class EventsView(APIView):
    """Polling fallback: the same event objects, with the same ids, as the sockets."""

    def get(self, request):
        query = EventsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        since = q["since"]
        events = events_after(user_id=request.user.pk, since=since, loja_id=q.get("loja_id"), limit=q["limit"])
        last_id = events[-1].id if events else since
        return Response({"events": [serialize_event(e) for e in events], "last_id": last_id})


def _layer_kind() -> str:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if backend.endswith("PubSubChannelLayer"):
        return "redis_pubsub"
    if "redis" in backend.lower():
        return "redis"
    return "in_memory"


def api_version_status(user) -> dict:
    """CONTRACT 9: false when SHOPIFY_API_VERSION or one of the user's lojas' versions is past
    Shopify's twelve months of support."""
    from chegouhub.common.apiversion import is_supported_api_version
    from chegouhub.stores.selectors import lojas_for_user

    versions = {settings.SHOPIFY_API_VERSION, *lojas_for_user(user).exclude(api_version="")
                .values_list("api_version", flat=True)}
    return {"versao_api": settings.SHOPIFY_API_VERSION,
            "versao_api_suportada": all(is_supported_api_version(v) for v in versions)}


class StatusView(APIView):
    """`GET /api/sync-realtime/status/`: the seed's document, for signed-in users (session or token).

    `websockets_available` is measured on every call (a round trip to the channel layer, at most
    one second), so with Redis down it is false and clients should fall back to polling.
    """

    def get(self, request):
        available = channel_layer_available()
        return Response(
            {
                "websockets_available": available,
                **api_version_status(request.user),
                "channel_layer": _layer_kind(),
                "features": {
                    "stock_notifications": True,
                    "shopify_webhook_processing": True,
                    "real_time_alerts": True,
                    "bulk_webhook_configuration": True,
                    "resume": True,
                    "polling_fallback": True,
                },
                "endpoints": {
                    "websocket_stock": "/ws/estoque/",
                    "websocket_notifications": "/ws/notifications/",
                    "webhook_configure": "/api/sync-realtime/configure-webhooks/",
                    "webhook_status": "/api/sync-realtime/webhooks-status/",
                    "webhook_test_connectivity": "/api/sync-realtime/test-connectivity/",
                    "webhook_cleanup": "/api/sync-realtime/cleanup-webhooks/",
                    "events_polling": "/api/sync-realtime/events/",
                    "status": "/api/sync-realtime/status/",
                },
                "websocket": {
                    "idle_timeout_seconds": settings.WS_IDLE_TIMEOUT_SECONDS,
                    "max_client_frame_bytes": settings.WS_MAX_CLIENT_FRAME_BYTES,
                    "close_codes": {"nao_autenticado": 4401, "loja_nao_permitida": 4403, "inativo": 4408},
                },
            }
        )
