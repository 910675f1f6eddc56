"""Outbound alert metrics (registered in NotifyConfig.ready())."""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from django.db.models import Count

from .models import OutboundAlert, OutboundStatus

OUTBOUND_ALERTS = Counter(
    "chegouhub_outbound_alerts_total", "Outbound alert sends to Slack/Discord", ["channel", "outcome"]
)


def database_families():

    pending = GaugeMetricFamily(
        "chegouhub_outbound_alerts_backlog", "Outbound Slack/Discord alerts by state", labels=["status"]
    )
    counts = dict(OutboundAlert.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for status in (OutboundStatus.PENDING, OutboundStatus.DEAD):
        pending.add_metric([status.value], counts.get(status, 0))
    yield pending
