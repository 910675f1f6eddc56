"""Stock metrics read at scrape time (registered in InventoryConfig.ready())."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from django.db.models import Count

from .models import Alerta, AlertaStatus


def database_families():

    alerts = GaugeMetricFamily("chegouhub_active_alerts", "Active stock alerts", labels=["tipo", "prioridade"])
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
    yield alerts
