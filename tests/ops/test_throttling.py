"""DRF throttles per endpoint: per user, per anonymous address; 429 with Retry-After. A request
refused by a limit writes nothing."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import httpx
import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from chegouhub.common.throttling import EndpointAnonRateThrottle, EndpointUserRateThrottle
from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.shopify.models import WebhookDelivery, WebhookRejection
from tests.conftest import WEBHOOK_PATHS
from tests.live import LiveServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(monkeypatch):
    rates = {"anon": "2/min", "user": "3/min"}
    monkeypatch.setattr(EndpointAnonRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(EndpointUserRateThrottle, "THROTTLE_RATES", rates)
    return rates


def test_user_rate_per_endpoint_answers_429_with_retry_after(tight_rates, api, other_user):
    for _ in range(3):
        assert api.get("/api/estoque/produtos/").status_code == 200
    r = api.get("/api/estoque/produtos/")
    assert r.status_code == 429
    assert 0 < int(r["Retry-After"]) <= 60
    assert "erro" in r.json()
    # another endpoint has its own bucket
    assert api.get("/api/estoque/alertas/").status_code == 200
    # another user has their own bucket
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get("/api/estoque/produtos/").status_code == 200


def test_anonymous_rate_is_per_address_and_not_fooled_by_forwarded_for(tight_rates, client):
    for _ in range(2):
        assert client.get("/api/schema/", REMOTE_ADDR="10.0.0.1").status_code == 200
    r = client.get("/api/schema/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert r.status_code == 429
    assert int(r["Retry-After"]) > 0
    assert client.get("/api/schema/", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_default_rates_come_from_settings():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert {"anon", "user"} <= set(rates)
    assert EndpointUserRateThrottle().parse_rate(rates["user"])[0] > 0


def test_a_cache_outage_lets_requests_through(tight_rates, api):
    with mock.patch.object(EndpointUserRateThrottle, "cache") as cache:
        cache.get.side_effect = ConnectionError("redis down")
        for _ in range(5):
            assert api.get("/api/estoque/produtos/").status_code == 200


def test_webhook_receiver_is_not_throttled_by_drf(tight_rates, loja, make_produto, post_webhook):
    from chegouhub.devtools.payloads import order_payload

    make_produto(loja, "T-1", estoque=100)
    for n in range(10):
        assert post_webhook(loja, "orders/paid", order_payload(800 + n, [(1, "T-1", 1)])).status_code == 200


class ServerLoggingAsDeployed(LiveServer):
    """uvicorn with its access log on and at info level: the worst a deployment may run with."""

    def command(self) -> list[str]:
        return [arg for arg in super().command() if arg != "--no-access-log"][:-1] + ["info"]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_requests_refused_by_a_limit_write_no_row_and_no_log_line(path, loja, tmp_path):
    """Issue 26 item 7 (CONTRACT section 8): 200 forged webhooks from one address past its limit,
    then an anonymous client past its API rate. Each 429 adds nothing to webhook.log, the server's
    output (Django's "Too Many Requests" warnings, uvicorn's access lines) or the database; a line
    when a limit starts refusing is allowed. Before: a line in webhook.log per forged 429, and on
    the Django path a console line per 429."""
    srv = ServerLoggingAsDeployed(log_dir=tmp_path, env={
        "WEBHOOK_FAILED_REQUESTS_PER_MINUTE": "5", "API_THROTTLE_ANON": "3/min",
        "WEBHOOK_FAST_PATH": "true" if path == "lean" else "false"}).start()
    try:
        webhook_log, output = tmp_path / "webhook.log", srv.output_path
        before = _lines(webhook_log), _lines(output)
        body = encode(order_payload(4242, [(1, "SKU-1", 1)]))
        headers = signed_headers(body=body, secret="not-the-secret", shop_domain=loja.shop_domain, topic="orders/paid")
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            codes = [http.post("/api/estoque/webhook/shopify/", content=body, headers=headers).status_code
                     for _ in range(200)]
            refused = codes.count(429)
            assert set(codes) == {401, 429} and refused >= 150, codes
            # A line for each request answered (401), at most one a minute when the limit starts
            assert _lines(webhook_log) - before[0] <= codes.count(401) + 2, webhook_log.read_text()[-2000:]
            assert WebhookRejection.objects.aggregate(n=Sum("count"))["n"] == codes.count(401)
            assert not WebhookDelivery.objects.exists()

            api_codes = [http.get("/api/auth/token/").status_code for _ in range(30)]
            assert api_codes.count(429) >= 25, api_codes
        time.sleep(0.5)  # what the server writes, written
        written = _lines(output) - before[1]
        answered = len(codes) - refused + len(api_codes) - api_codes.count(429)
        assert written <= answered + 3, output.read_text()[-3000:]
    finally:
        srv.stop()
