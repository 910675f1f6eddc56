"""Prometheus metrics, exposed at /metrics.

Two kinds:

- Process metrics, incremented where things happen, each defined by its app's `metrics.py`
  (shopify: webhooks by topic and outcome, latency, retries; realtime: open WebSockets, publish
  failures; notify: outbound alert sends). With several worker processes (uvicorn --workers N, or several processes per host) set
  PROMETHEUS_MULTIPROC_DIR to an empty directory writable by every process of the host, cleared
  at each start: prometheus-client then keeps each process's values in files there and /metrics
  adds them up (see docs/deploy.md). Without it each process answers with its own values.
- Database metrics, computed at scrape time from the shared database, so every process and host
  answers the same (retry backlog, dead deliveries, active stock alerts, pending outbound alerts):
  each app registers its own with `register_database_families`.
"""

from __future__ import annotations

import atexit
import os
import re
import threading

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

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


# Each app registers the gauges it reads from the database at scrape time (in its AppConfig.ready()):
# a function yielding prometheus metric families. `common` knows no domain app.
_database_families: list = []


def register_database_families(families) -> None:
    if families not in _database_families:
        _database_families.append(families)


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
        for families in _database_families:
            yield from families()


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
