"""The webhook stats come from daily counters the database keeps as deliveries arrive (issue 31):
they must say what a scan of the deliveries said, on every server path, at the window's edges,
and when a delivery's status changes after it arrived (a retry)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.shopify.models import WebhookDailyCount, WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
URL = "/api/estoque/webhook/shopify/"


async def post(asgi, loja, topic, payload):
    body = encode(payload)
    headers = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic)
    return await asgi.post(URL, content=body, headers=headers)


@sync_to_async
def stats(user, query: str) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/estoque/webhook/stats/?{query}").json()


@sync_to_async
def age(delivery_pk: int, **delta) -> None:
    WebhookDelivery.objects.filter(pk=delivery_pk).update(created_at=timezone.now() - timedelta(**delta))


async def test_stats_from_counters_match_the_deliveries(webhook_asgi, user, make_loja, make_produto):
    loja = await sync_to_async(make_loja)(user)
    await sync_to_async(make_produto)(loja, "SKU-A", estoque=50)
    for n, lines in enumerate([[(1, "SKU-A", 1)], [(1, "GHOST", 1), (2, None, 1)], [(1, "GHOST", 2)],
                               [(1, "SKU-A", 1), (2, "SKU-A", 1)]]):
        assert (await post(webhook_asgi, loja, "orders/paid", order_payload(9100 + n, lines))).status_code == 200
    assert (await post(webhook_asgi, loja, "customers/update", {"id": 1})).status_code == 200
    repeated_line = order_payload(9200, [(1, "SKU-A", 1), (1, "SKU-A", 1)])
    assert (await post(webhook_asgi, loja, "orders/paid", repeated_line)).status_code == 200
    s = await stats(user, f"days=1&loja_id={loja.pk}")
    assert (s["total"], s["processados"], s["ignorados"], s["falhas"]) == (6, 5, 1, 0)
    assert s["por_topico"] == {"orders/paid": 5, "customers/update": 1}
    assert s["skus_nao_mapeados"] == [{"sku": "GHOST", "ocorrencias": 2}, {"sku": None, "ocorrencias": 1}]
    assert [line["ocorrencias"] for line in s["linhas_invalidas"]] == [1]

    ids = await sync_to_async(lambda: list(WebhookDelivery.objects.filter(loja=loja).order_by("id")
                                           .values_list("id", flat=True)))()
    await age(ids[1], days=40)  # out of a 30-day window
    await age(ids[2], days=29, hours=23)  # inside it, on the window's first (partial) day
    await age(ids[3], days=30, minutes=5)  # just out of it, on that same first day
    s30 = await stats(user, f"days=30&loja_id={loja.pk}")
    assert (s30["total"], s30["processados"]) == (4, 3)
    assert s30["skus_nao_mapeados"] == [{"sku": "GHOST", "ocorrencias": 1}]
    assert (await stats(user, f"days=60&loja_id={loja.pk}"))["total"] == 6

    # A status changed after arrival (a failure, then its retry) moves the count.
    await sync_to_async(WebhookDelivery.objects.filter(pk=ids[0]).update)(status="failed")
    s = await stats(user, f"days=60&loja_id={loja.pk}")
    assert (s["processados"], s["falhas"]) == (4, 1)
    # Deleting the deliveries takes them out of the counts.
    await sync_to_async(WebhookDelivery.objects.filter(loja=loja).delete)()
    assert (await stats(user, f"days=60&loja_id={loja.pk}"))["total"] == 0


def test_the_counters_are_read_not_the_deliveries(user, make_loja):
    """The stats for a year read the counters (a few rows a day), and a delivery inserted by SQL,
    as the lean route does, is counted by the database itself."""
    loja = make_loja(user)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO shopify_webhookdelivery (loja_id, shop_domain, topic, webhook_id, api_version, triggered_at,"
            " body, status, attempts, last_error, unmapped_skus, invalid_lines, created_at)"
            " SELECT %s, %s, 'orders/paid', 'sql-' || g, '', '', '', 'processed', 1, '', '[\"X\"]', '[]',"
            " now() - g * interval '1 hour' FROM generate_series(1, 2000) g", [loja.pk, loja.shop_domain])
    assert WebhookDailyCount.objects.filter(loja=loja).count() < 2000 / 24 * 3 * 8 + 100
    client = APIClient()
    client.force_authenticate(user)
    s = client.get("/api/estoque/webhook/stats/?days=365").json()
    assert (s["total"], s["skus_nao_mapeados"]) == (2000, [{"sku": "X", "ocorrencias": 2000}])
