"""/metrics: webhooks by topic and outcome, latency, backlog and alerts read at scrape time."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import httpx
import pytest
from django.utils import timezone

from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def scrape(client, **extra) -> str:
    r = client.get("/metrics", **extra)
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain")
    return r.content.decode()


def value(text: str, name: str, **labels) -> float:
    """The value of one sample, 0 when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == str(v) for k, v in labels.items()) and len(got) == len(labels):
            return float(m.group(4))
    return 0.0


def test_webhooks_are_counted_by_topic_and_outcome_with_latency(client, loja, make_produto, post_webhook):
    make_produto(loja, "M-1", estoque=10)
    before = scrape(client)
    post_webhook(loja, "orders/paid", order_payload(1, [(1, "M-1", 1)]))
    post_webhook(loja, "orders/paid", order_payload(1, [(1, "M-1", 1)]), webhook_id="dup")
    post_webhook(loja, "orders/paid", order_payload(1, [(1, "M-1", 1)]), webhook_id="dup")
    post_webhook(loja, "products/update", {"id": 5})
    post_webhook(loja, "orders/paid", order_payload(2, [(1, "M-1", 1)]), secret="wrong-secret-123")
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("chegouhub_webhooks_total", topic="orders/paid", outcome="processed") == 2
    assert delta("chegouhub_webhooks_total", topic="orders/paid", outcome="duplicate") == 1
    assert delta("chegouhub_webhooks_total", topic="products/update", outcome="ignored") == 1
    assert delta("chegouhub_webhooks_total", topic="orders/paid", outcome="rejected_401") == 1
    assert delta("chegouhub_webhook_processing_seconds_count") >= 4
    assert "chegouhub_webhook_processing_seconds_bucket" in after
    for name in ("chegouhub_open_websockets", "chegouhub_channel_publish_failures_total"):
        assert name in after


def test_topic_label_is_bounded_against_junk_headers(client, loja, post_webhook):
    for junk in ("x" * 300, "DROP TABLE", "a/b/c", "ação/x"):
        post_webhook(loja, junk, {"id": 1}, secret="wrong-secret-123")
    text = scrape(client)
    assert value(text, "chegouhub_webhooks_total", topic="other", outcome="rejected_401") >= 4
    assert "DROP TABLE" not in text and "x" * 300 not in text


def test_retry_backlog_and_active_alerts_are_read_at_scrape_time(client, loja, make_produto, post_webhook):
    make_produto(loja, "Z-1", estoque=1, minimo=0)
    post_webhook(loja, "orders/paid", order_payload(3, [(1, "Z-1", 1)]))  # stock 1 -> 0: zero alert
    with mock.patch("chegouhub.shopify.services.apply_stock_changes", side_effect=RuntimeError("boom")):
        post_webhook(loja, "orders/paid", order_payload(4, [(1, "Z-1", 1)]))
    WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).update(
        next_attempt_at=timezone.now() - timedelta(seconds=30))
    text = scrape(client)
    assert value(text, "chegouhub_webhook_retry_backlog", status="failed") == 1
    assert value(text, "chegouhub_webhook_retry_backlog", status="dead") == 0
    assert value(text, "chegouhub_webhook_retry_overdue_seconds") >= 29
    assert value(text, "chegouhub_active_alerts", tipo="estoque_zerado", prioridade="critica") == 1
    assert value(text, "chegouhub_metrics_database_up") == 1


def test_metrics_survive_a_database_error(client):
    with mock.patch("chegouhub.common.metrics.DatabaseCollector._families", side_effect=RuntimeError("db")):
        text = scrape(client)
    assert value(text, "chegouhub_metrics_database_up") == 0
    assert "chegouhub_webhooks_total" in text or "chegouhub_webhook_processing_seconds" in text


def test_metrics_token_when_configured(client, settings):
    settings.METRICS_TOKEN = "metrics-secret-1"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    scrape(client, HTTP_AUTHORIZATION="Bearer metrics-secret-1")


@pytest.mark.live
def test_multiprocess_mode_adds_up_every_worker(live_server_factory, make_user, make_loja, make_produto, tmp_path):
    """Two uvicorn workers with PROMETHEUS_MULTIPROC_DIR: any scrape reports the sum of both."""
    loja = make_loja(make_user())
    make_produto(loja, "MP-1", estoque=100, minimo=0)
    server = live_server_factory(workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
                                                 "METRICS_TOKEN": "metrics-secret-2"})
    with httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": "Bearer metrics-secret-2"}) as http:
        for n in range(20):
            body = encode(order_payload(500 + n, [(1, "MP-1", 1)]))
            # a fresh connection each time, so the requests spread over the workers
            r = httpx.post(f"{server.url}/api/estoque/webhook/shopify/", content=body, timeout=30,
                           headers=signed_headers(body=body, secret=loja.webhook_secret,
                                                  shop_domain=loja.shop_domain, topic="orders/paid"))
            assert r.status_code == 200
        for _ in range(3):
            text = http.get("/metrics").text
            assert value(text, "chegouhub_webhooks_total", topic="orders/paid", outcome="processed") == 20
            assert value(text, "chegouhub_webhook_processing_seconds_count") == 20
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file set per worker process
