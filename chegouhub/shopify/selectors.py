from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from .models import DeliveryStatus, RejectionReason, WebhookRejection

# The stats' window in two parts: whole UTC days from the counters the triggers keep
# (WebhookDailyCount), and the part of the window's first day after `since` from that day's
# deliveries alone. Either way a bounded number of rows, however long the history (issue 31).
COUNTS_SQL = """
WITH lojas AS (SELECT id FROM stores_loja WHERE owner_id = %(user)s AND (%(loja)s::bigint IS NULL OR id = %(loja)s))
SELECT kind, key, sum(n)::bigint FROM (
  SELECT c.kind, c.key, c.n FROM shopify_webhookdailycount c
   WHERE c.loja_id IN (SELECT id FROM lojas) AND c.day >= %(first_day)s
  UNION ALL
  SELECT k.kind, k.key, 1 FROM shopify_webhookdelivery d
   CROSS JOIN LATERAL shopify_delivery_count_keys(d.topic, d.status, d.unmapped_skus, d.invalid_lines) k
   WHERE d.loja_id IN (SELECT id FROM lojas) AND d.created_at >= %(since)s AND d.created_at < %(first_day_start)s
) x
GROUP BY kind, key
HAVING sum(n) <> 0
"""


def delivery_counts(*, user_id: int, since: datetime, loja_id: int | None = None) -> dict[str, dict]:
    """{kind: {key: count}} of the deliveries created at or after `since` (kinds: see WebhookDailyCount)."""
    first_day = since.astimezone(UTC).date() + timedelta(days=1)
    params = {"user": user_id, "loja": loja_id, "since": since, "first_day": first_day,
              "first_day_start": datetime.combine(first_day, time.min, tzinfo=UTC)}
    counts: dict[str, dict] = {}
    with connection.cursor() as cur:
        cur.execute(COUNTS_SQL, params)
        for kind, key, n in cur.fetchall():
            counts.setdefault(kind, {})[key] = n
    return counts


def _most_common(counts: dict) -> list[tuple]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], "" if kv[0] is None else kv[0]))


def webhook_stats(*, user, days: int, loja_id: int | None = None) -> dict:
    since = timezone.now() - timedelta(days=days)
    counts = delivery_counts(user_id=user.pk, since=since, loja_id=loja_id)
    rejections = WebhookRejection.objects.filter(loja__owner_id=user.pk, created_at__gte=since)
    if loja_id is not None:
        rejections = rejections.filter(loja_id=loja_id)
    by_reason = dict(rejections.values_list("reason").annotate(n=Sum("count")).order_by())
    by_status = counts.get("status", {})
    unmapped = dict(counts.get("sku", {}))
    if counts.get("sem_sku"):
        unmapped[None] = sum(counts["sem_sku"].values())  # lines without a SKU: `"sku": null`
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
        "por_topico": counts.get("topic", {}),
        "skus_nao_mapeados": [{"sku": sku, "ocorrencias": n} for sku, n in _most_common(unmapped)],
        "linhas_invalidas": [{"motivo": m, "ocorrencias": n} for m, n in _most_common(counts.get("motivo", {}))],
    }
