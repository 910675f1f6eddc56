"""The retry worker (`manage.py process_webhooks`): backoff, dead letters, replay, and no double work."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chegouhub.devtools.payloads import encode, order_payload
from chegouhub.inventory import services as inventory_services
from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery
from tests.live import ROOT
from tests.live import test_database_url as live_database_url

pytestmark = pytest.mark.django_db


def stock(produto) -> int:
    return Produto.objects.get(pk=produto.pk).estoque_atual


class Flaky:
    """apply_stock_changes that raises for the first `failures` calls, then works."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("transient failure")
        return inventory_services.apply_stock_changes(**kwargs)


def make_due(delivery: WebhookDelivery) -> None:
    """Pretend the backoff has elapsed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def run_worker_once() -> None:
    call_command("process_webhooks", "--once")


def test_failed_delivery_is_retried_with_backoff_until_it_succeeds(loja, make_produto, post_webhook, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5.0
    p = make_produto(loja, "SKU-R", estoque=10)
    flaky = Flaky(failures=3)
    with mock.patch("chegouhub.shopify.services.apply_stock_changes", flaky):
        r = post_webhook(loja, "orders/paid", order_payload(501, [(1, "SKU-R", 2)]))
        assert r.json() == {"status": "accepted"}
        delivery = WebhookDelivery.objects.get()
        delays = []
        for attempt in (1, 2, 3):
            delivery.refresh_from_db()
            assert delivery.status == DeliveryStatus.FAILED
            assert delivery.attempts == attempt
            delays.append((delivery.next_attempt_at - timezone.now()).total_seconds())
            run_worker_once()  # not due yet: nothing happens
            delivery.refresh_from_db()
            assert delivery.attempts == attempt
            make_due(delivery)
            run_worker_once()
    # exponential backoff: 5 s, 10 s, 20 s after attempts 1, 2, 3
    assert [round(d) for d in delays] == [5, 10, 20]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.PROCESSED, 4, None)
    assert stock(p) == 8
    assert Movimentacao.objects.filter(produto=p, origem="shopify_pedido_pago").count() == 1


def test_delivery_that_keeps_failing_is_marked_dead_then_left_alone(loja, make_produto, post_webhook, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    p = make_produto(loja, "SKU-D", estoque=10)
    with mock.patch("chegouhub.shopify.services.apply_stock_changes", Flaky(failures=10**6)):
        post_webhook(loja, "orders/paid", order_payload(502, [(1, "SKU-D", 2)]))
        delivery = WebhookDelivery.objects.get()
        for _ in range(5):
            if WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED:
                make_due(delivery)
            run_worker_once()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.DEAD, 3, None)
    assert delivery.last_error == "RuntimeError"
    assert stock(p) == 10
    assert not Movimentacao.objects.filter(produto=p, origem="shopify_pedido_pago").exists()


def _dead_delivery(loja, make_produto, post_webhook, settings, order_id: int):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    p = make_produto(loja, f"SKU-{order_id}", estoque=10)
    with mock.patch("chegouhub.shopify.services.apply_stock_changes", Flaky(failures=1)):
        post_webhook(loja, "orders/paid", order_payload(order_id, [(1, f"SKU-{order_id}", 4)]))
    delivery = WebhookDelivery.objects.get(order_id__isnull=True, loja=loja)
    assert delivery.status == DeliveryStatus.DEAD
    return p, delivery


def test_replay_of_a_dead_delivery_from_the_command(loja, make_produto, post_webhook, settings):
    p, delivery = _dead_delivery(loja, make_produto, post_webhook, settings, 503)
    call_command("process_webhooks", "--replay", str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert stock(p) == 6
    # replaying a processed delivery is refused and changes nothing
    with pytest.raises(CommandError):
        call_command("process_webhooks", "--replay", str(delivery.pk))
    with pytest.raises(CommandError):
        call_command("process_webhooks", "--replay", "999999")
    assert stock(p) == 6


def test_replay_of_a_dead_delivery_from_the_api(loja, make_produto, post_webhook, settings, api, other_user):
    p, delivery = _dead_delivery(loja, make_produto, post_webhook, settings, 504)
    url = f"/api/estoque/webhook/entregas/{delivery.pk}/replay/"
    from rest_framework.test import APIClient

    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.post(url).status_code == 404
    r = api.post(url)
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "processed"
    assert stock(p) == 6
    again = api.post(url)
    assert again.status_code == 409
    assert stock(p) == 6


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=live_database_url(), DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "x"),
               DJANGO_DEBUG="false")
    env.pop("REDIS_URL", None)
    return env


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_process_a_delivery_twice(loja, make_produto):
    """Three worker processes race over the same 60 due deliveries: each is retried exactly once."""
    p = make_produto(loja, "SKU-W", estoque=1000, minimo=0)
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(loja=loja, shop_domain=loja.shop_domain, topic="orders/paid", webhook_id=f"w-{n}",
                        body=encode(order_payload(60_000 + n, [(1, "SKU-W", 1)])), status=DeliveryStatus.FAILED,
                        attempts=1, next_attempt_at=past)
        for n in range(60)
    )
    cmd = [sys.executable, "manage.py", "process_webhooks", "--once", "--batch", "1000"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=_worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    deliveries = list(WebhookDelivery.objects.all())
    assert {d.status for d in deliveries} == {DeliveryStatus.PROCESSED}
    # one receive + exactly one retry each: a second worker touching it would have made it 3
    assert {d.attempts for d in deliveries} == {2}
    assert stock(p) == 940
    assert Movimentacao.objects.filter(produto=p, origem="shopify_pedido_pago").count() == 60


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_worker_loop_picks_up_failures_and_stops_on_sigterm(loja, make_produto):
    import signal
    import time

    p = make_produto(loja, "SKU-L", estoque=10, minimo=0)
    proc = subprocess.Popen([sys.executable, "manage.py", "process_webhooks", "--interval", "0.2"], cwd=ROOT,
                            env=_worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        WebhookDelivery.objects.create(
            loja=loja, shop_domain=loja.shop_domain, topic="orders/paid", webhook_id="loop-1",
            body=encode(order_payload(61_000, [(1, "SKU-L", 3)])), status=DeliveryStatus.FAILED, attempts=1,
            next_attempt_at=timezone.now())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and stock(p) != 7:
            time.sleep(0.1)
        assert stock(p) == 7
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
