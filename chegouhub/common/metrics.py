"""Prometheus metrics, exposed at /metrics.

Two kinds:

- Process metrics, incremented where things happen: webhooks by topic and outcome, the
  processing latency histogram, open WebSockets, channel-layer publish failures, outbound alert
  sends. With several worker processes (uvicorn --workers N, or several processes per host) set
  PROMETHEUS_MULTIPROC_DIR to an empty directory writable by every process of the host, cleared
  at each start: prometheus-client then keeps each process's values in files there and /metrics
  adds them up (see docs/deploy.md). Without it each process answers with its own values.
- Database metrics, computed at scrape time from the shared database, so every process and host
  answers the same: retry backlog, dead deliveries, active stock alerts, pending outbound alerts.
"""

from __future__ import annotations

import atexit
import os
import re
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

_WEBHOOKS = Counter("chegouhub_webhooks_total", "Shopify webhooks received", ["topic", "outcome"])
WEBHOOK_LATENCY = Histogram(
    "chegouhub_webhook_processing_seconds",
    "Time to verify, store and apply one webhook",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
OPEN_WEBSOCKETS = Gauge("chegouhub_open_websockets", "Open WebSocket connections", multiprocess_mode="livesum")
PUBLISH_FAILURES = Counter("chegouhub_channel_publish_failures_total", "Channel layer publish failures")
OUTBOUND_ALERTS = Counter(
    "chegouhub_outbound_alerts_total", "Outbound alert sends to Slack/Discord", ["channel", "outcome"]
)
WEBHOOK_RETRIES = Counter("chegouhub_webhook_retries_total", "Retry-worker attempts by result", ["status"])
WEBHOOK_STALE_RESOLUTIONS = Counter(
    "chegouhub_webhook_stale_sku_resolutions_total",
    "Lean-route batches planned from a remembered SKU resolution that had changed, rolled back and planned again",
)

# The topic label comes from a request header; unverified requests are counted too, so it is
# bounded: Shopify-shaped names only, and at most MAX_TOPICS distinct ones per process.
_TOPIC_SHAPE = re.compile(r"^[a-z_]{1,40}/[a-z_]{1,40}$")
MAX_TOPICS = 64
_topics_seen: set[str] = set()
_topics_lock = threading.Lock()


def topic_label(topic: str) -> str:
    if not topic or topic == "-":
        return "-"
    if not _TOPIC_SHAPE.match(topic):
        return "other"
    if topic in _topics_seen:
        return topic
    with _topics_lock:
        if len(_topics_seen) >= MAX_TOPICS:
            return "other"
        _topics_seen.add(topic)
    return topic


class _BoundedWebhookCounter:
    """`WEBHOOKS.labels(topic=..., outcome=...)` with the topic label bounded."""

    def labels(self, topic: str = "-", outcome: str = "-"):
        return _WEBHOOKS.labels(topic=topic_label(str(topic)), outcome=str(outcome)[:40])

    def collect(self):  # for tests that read the underlying counter
        return _WEBHOOKS.collect()


WEBHOOKS = _BoundedWebhookCounter()


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (the same answer from every process)."""

    def collect(self):
        up = GaugeMetricFamily("chegouhub_metrics_database_up", "Whether the scrape could read the database")
        try:
            families = list(self._families())
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        from django.db.models import Count, Min
        from django.utils import timezone

        from chegouhub.inventory.models import Alerta, AlertaStatus
        from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery

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

        alerts = GaugeMetricFamily(
            "chegouhub_active_alerts", "Active stock alerts", labels=["tipo", "prioridade"]
        )
        rows = (
            Alerta.objects.filter(status=AlertaStatus.ATIVO)
            .values_list("tipo", "prioridade")
            .annotate(n=Count("id"))
            .order_by()
        )
        seen = {(tipo, prioridade): n for tipo, prioridade, n in rows}
        for (tipo, prioridade) in (("estoque_baixo", "alta"), ("estoque_zerado", "critica")):
            seen.setdefault((tipo, prioridade), 0)
        for (tipo, prioridade), n in sorted(seen.items()):
            alerts.add_metric([tipo, prioridade], n)
        yield backlog
        yield overdue
        yield alerts
        yield from _outbox_families()


def _outbox_families():
    try:
        from chegouhub.notify.models import OutboundAlert, OutboundStatus
    except ImportError:  # the notify app is optional
        return
    from django.db.models import Count

    pending = GaugeMetricFamily(
        "chegouhub_outbound_alerts_backlog", "Outbound Slack/Discord alerts by state", labels=["status"]
    )
    counts = dict(OutboundAlert.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for status in (OutboundStatus.PENDING, OutboundStatus.DEAD):
        pending.add_metric([status.value], counts.get(status, 0))
    yield pending


_database_collector = DatabaseCollector()


def scrape_registry() -> CollectorRegistry:
    """What /metrics serves: every process's metrics (multiprocess mode) or this one's, plus the database's."""
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_database_collector)
        return registry
    return _single_process_registry()


_single = None


def _single_process_registry():
    global _single
    if _single is None:
        _single = _CombinedRegistry()
    return _single


class _CombinedRegistry:
    """The default registry plus the database collector, without registering it globally twice."""

    def collect(self):
        yield from REGISTRY.collect()
        yield from _database_collector.collect()


if MULTIPROC_DIR:
    # A process that exits cleanly removes its live gauge files (open websockets); files left by a
    # killed process are cleared when the host's processes start (docs/deploy.md).
    def _mark_dead() -> None:
        try:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
        except Exception:
            pass

    atexit.register(_mark_dead)
