"""The webhook path's metrics (registered with common.metrics' scrape in ShopifyConfig.ready())."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from django.db.models import Count, Min
from django.utils import timezone

from .models import DeliveryStatus, WebhookDelivery

from chegouhub.common.metrics import topic_label

_WEBHOOKS = Counter("chegouhub_webhooks_total", "Shopify webhooks received", ["topic", "outcome"])
WEBHOOK_LATENCY = Histogram(
    "chegouhub_webhook_processing_seconds",
    "Time to verify, store and apply one webhook",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WEBHOOK_RETRIES = Counter("chegouhub_webhook_retries_total", "Retry-worker attempts by result", ["status"])
WEBHOOK_STALE_RESOLUTIONS = Counter(
    "chegouhub_webhook_stale_sku_resolutions_total",
    "Lean-route batches planned from a remembered SKU resolution that had changed, rolled back and planned again",
)


class _BoundedWebhookCounter:
    """`WEBHOOKS.labels(topic=..., outcome=...)` with the topic label bounded."""

    def labels(self, topic: str = "-", outcome: str = "-"):
        return _WEBHOOKS.labels(topic=topic_label(str(topic)), outcome=str(outcome)[:40])

    def collect(self):  # for tests that read the underlying counter
        return _WEBHOOKS.collect()


WEBHOOKS = _BoundedWebhookCounter()


def database_families():

    backlog = GaugeMetricFamily(
        "chegouhub_webhook_retry_backlog",
        "Webhook deliveries awaiting the retry worker (failed) or being retried (processing), and dead ones",
        labels=["status"],
    )
    counts = dict(
        WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.PROCESSING]
        )
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status in (DeliveryStatus.FAILED, DeliveryStatus.PROCESSING, DeliveryStatus.DEAD):
        backlog.add_metric([status.value], counts.get(status, 0))
    oldest = WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).aggregate(m=Min("next_attempt_at"))["m"]
    overdue = GaugeMetricFamily(
        "chegouhub_webhook_retry_overdue_seconds",
        "How long the most overdue failed delivery has been due (0 when none): a stuck worker shows here",
    )
    overdue.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
    yield backlog
    yield overdue
