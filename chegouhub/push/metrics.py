"""Web Push metrics (registered in PushConfig.ready())."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from .models import PushMessage, PushStatus

PUSH_SENDS = Counter("chegouhub_push_sends_total", "Web Push sends to push services", ["outcome"])


def database_families():
    backlog = GaugeMetricFamily("chegouhub_push_backlog", "Web Push outbox by state", labels=["status"])
    counts = dict(PushMessage.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for status in (PushStatus.PENDING, PushStatus.DEAD):
        backlog.add_metric([status.value], counts.get(status, 0))
    yield backlog
