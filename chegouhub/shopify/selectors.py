from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from .models import DeliveryStatus, RejectionReason, WebhookDelivery, WebhookRejection


def webhook_stats(*, user, days: int, loja_id: int | None = None) -> dict:
    since = timezone.now() - timedelta(days=days)
    deliveries = WebhookDelivery.objects.filter(loja__owner_id=user.pk, created_at__gte=since)
    rejections = WebhookRejection.objects.filter(loja__owner_id=user.pk, created_at__gte=since)
    if loja_id is not None:
        deliveries = deliveries.filter(loja_id=loja_id)
        rejections = rejections.filter(loja_id=loja_id)
    by_status = dict(deliveries.values_list("status").annotate(n=Count("id")).order_by())
    by_reason = dict(rejections.values_list("reason").annotate(n=Sum("count")).order_by())
    por_topico = dict(deliveries.values_list("topic").annotate(n=Count("id")).order_by())
    unmapped: Counter = Counter()
    for skus in deliveries.exclude(unmapped_skus=[]).values_list("unmapped_skus", flat=True).iterator():
        unmapped.update(skus)
    invalid: Counter = Counter()
    for lines in deliveries.exclude(invalid_lines=[]).values_list("invalid_lines", flat=True).iterator():
        invalid.update(line.get("motivo", "") for line in lines)
    processados = by_status.get(DeliveryStatus.PROCESSED, 0)
    ignorados = by_status.get(DeliveryStatus.IGNORED, 0)
    falhas = sum(by_status.get(s, 0) for s in (DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.INVALID))
    duplicados = by_reason.get(RejectionReason.DUPLICATE, 0)
    hmac_invalido = by_reason.get(RejectionReason.HMAC_INVALID, 0)
    return {
        "dias": days,
        "total": sum(by_status.values()) + duplicados + hmac_invalido,
        "processados": processados,
        "duplicados": duplicados,
        "ignorados": ignorados,
        "falhas": falhas,
        "hmac_invalido": hmac_invalido,
        "em_processamento": by_status.get(DeliveryStatus.PROCESSING, 0),
        "por_topico": por_topico,
        "skus_nao_mapeados": [{"sku": sku, "ocorrencias": n} for sku, n in unmapped.most_common()],
        "linhas_invalidas": [{"motivo": motivo, "ocorrencias": n} for motivo, n in invalid.most_common()],
    }
