"""Raw bodies are emptied after WEBHOOK_BODY_RETENTION_DAYS by the worker, except those still owed a retry."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from chegouhub.devtools.payloads import order_payload
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery

from .conftest import run_worker


def test_old_resolved_bodies_are_purged_by_the_worker_and_the_rest_kept(loja, make_produto, post_webhook, api,
                                                                       settings):
    settings.WEBHOOK_BODY_RETENTION_DAYS = 10
    make_produto(loja, "CAMISA", estoque=50)
    for order_id in (1, 2, 3, 4, 5):
        post_webhook(loja, "orders/paid", order_payload(order_id, [(order_id * 10, "CAMISA", 1)]))
    d = {d.order_id: d for d in WebhookDelivery.objects.all()}
    old = timezone.now() - timedelta(days=11)
    WebhookDelivery.objects.filter(order_id__in=[1, 2, 3, 4]).update(created_at=old)
    WebhookDelivery.objects.filter(order_id=2).update(status=DeliveryStatus.FAILED,
                                                      next_attempt_at=timezone.now() + timedelta(hours=1))
    WebhookDelivery.objects.filter(order_id=3).update(status=DeliveryStatus.PROCESSING,
                                                      claimed_until=timezone.now() + timedelta(hours=1))
    WebhookDelivery.objects.filter(order_id=4).update(status=DeliveryStatus.DEAD)
    stats = api.get("/api/estoque/webhook/stats/?days=30").json()

    run_worker()

    bodies = {x.order_id: bytes(x.body) for x in WebhookDelivery.objects.all()}
    assert bodies[1] == b""  # old and processed: purged
    assert all(bodies[k] == bytes(d[k].body) for k in (2, 3, 4, 5))  # owed a retry / replay, or recent
    purged = WebhookDelivery.objects.get(order_id=1)
    assert (purged.status, purged.order_id) == (DeliveryStatus.PROCESSED, 1)
    assert api.get(f"/api/estoque/webhook/entregas/{purged.pk}/").json()["status"] == "processed"
    assert api.get("/api/estoque/webhook/stats/?days=30").json() == stats


def test_retention_defaults_to_30_days(loja, make_produto, post_webhook, settings):
    assert settings.WEBHOOK_BODY_RETENTION_DAYS == 30
    make_produto(loja, "CAMISA", estoque=50)
    post_webhook(loja, "orders/paid", order_payload(1, [(10, "CAMISA", 1)]))
    post_webhook(loja, "orders/paid", order_payload(2, [(20, "CAMISA", 1)]))
    WebhookDelivery.objects.filter(order_id=1).update(created_at=timezone.now() - timedelta(days=31))
    WebhookDelivery.objects.filter(order_id=2).update(created_at=timezone.now() - timedelta(days=29))
    run_worker()
    assert {x.order_id: bool(bytes(x.body)) for x in WebhookDelivery.objects.all()} == {1: False, 2: True}
