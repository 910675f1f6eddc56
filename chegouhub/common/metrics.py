"""Prometheus metrics (exposed at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS = Counter("chegouhub_webhooks_total", "Shopify webhooks received", ["topic", "outcome"])
WEBHOOK_LATENCY = Histogram(
    "chegouhub_webhook_processing_seconds",
    "Time to verify, store and apply one webhook",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
OPEN_WEBSOCKETS = Gauge("chegouhub_open_websockets", "Open WebSocket connections", multiprocess_mode="livesum")
PUBLISH_FAILURES = Counter("chegouhub_channel_publish_failures_total", "Channel layer publish failures")
