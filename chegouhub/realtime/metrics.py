"""Socket and fan-out metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OPEN_WEBSOCKETS = Gauge("chegouhub_open_websockets", "Open WebSocket connections", multiprocess_mode="livesum")
PUBLISH_FAILURES = Counter("chegouhub_channel_publish_failures_total", "Channel layer publish failures")
