from __future__ import annotations

from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from chegouhub.common.logging import webhook_log
from chegouhub.common.pagination import HistoryPagination
from chegouhub.inventory.views import OwnedByUserMixin, choice_param, int_param

from .models import DeliveryStatus, WebhookDelivery
from .selectors import webhook_stats
from .services import receive_webhook, replay_delivery


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def raw_headers(request) -> list[tuple[str, str]]:
    """The request's header pairs as sent: a repeated header stays repeated (Django's META would
    join them with commas), so every path judges the same pairs (verification.read_headers)."""
    scope = getattr(request, "scope", None)
    if scope is not None:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    return list(request.headers.items())


@csrf_exempt
@require_POST
def shopify_webhook(request):
    """Plain Django view: the raw bytes are verified before anything parses them."""
    from django.conf import settings

    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > settings.WEBHOOK_MAX_BODY_BYTES:
        body = b"x" * (settings.WEBHOOK_MAX_BODY_BYTES + 1)  # rejected by size without reading it
    else:
        body = request.read(settings.WEBHOOK_MAX_BODY_BYTES + 1)
    try:
        outcome = receive_webhook(headers=raw_headers(request), body=body, remote_ip=client_ip(request))
    except DatabaseError as exc:
        webhook_log.error("database unavailable; asking Shopify to retry", extra={"error_type": type(exc).__name__})
        return JsonResponse({"erro": "Banco de dados indisponível; a Shopify vai reenviar."}, status=503)
    return JsonResponse(outcome.body, status=outcome.http_status)


class StatsQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=7)


class WebhookStatsView(APIView):
    def get(self, request):
        query = StatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            webhook_stats(user=request.user, days=query.validated_data["days"], loja_id=int_param(request, "loja_id"))
        )


class DeliverySerializer(serializers.ModelSerializer):
    loja_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "loja_id", "topic", "webhook_id", "status", "attempts", "next_attempt_at", "last_error",
                  "order_id", "unmapped_skus", "created_at", "processed_at"]
        read_only_fields = fields


class DeliveryViewSet(OwnedByUserMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Operators' view of the inbox; dead deliveries can be replayed."""

    serializer_class = DeliverySerializer
    pagination_class = HistoryPagination  # one delivery an order, forever: by cursor, no count

    def get_queryset(self):
        qs = self.owned(WebhookDelivery).defer("body")
        status_ = choice_param(self.request, "status", DeliveryStatus.values)
        return (qs.filter(status=status_) if status_ else qs).order_by("-id")

    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        delivery = self.get_object()
        try:
            replay_delivery(delivery.pk)
        except ValueError as exc:
            return Response({"erro": str(exc)}, status=409)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)
