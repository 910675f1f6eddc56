"""DRF throttles per endpoint: per user, per anonymous address; 429 with Retry-After."""

from __future__ import annotations

from unittest import mock

import pytest
from rest_framework.test import APIClient

from chegouhub.common.throttling import EndpointAnonRateThrottle, EndpointUserRateThrottle

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
