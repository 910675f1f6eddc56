"""Publishing after commit never fails, and never hangs, a webhook when Redis is dead or hung."""

from __future__ import annotations

import socket
import time

import pytest

from chegouhub.devtools.payloads import order_payload
from chegouhub.inventory.models import Produto
from chegouhub.realtime import events
from tests.live import free_port

pytestmark = [pytest.mark.timeout(30)]


@pytest.fixture
def hung_redis():
    """A TCP port that accepts connections and never answers (a Redis that is stuck)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def use_redis(settings, url: str) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [{"address": url, "socket_connect_timeout": 1}]}}}


def test_dead_redis_fails_fast_and_pauses_publishing(settings):
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    assert events.publish([("loja.1", {"id": 1})]) is False
    assert events.publish([("loja.1", {"id": 2})]) is False  # paused: not even tried
    assert time.monotonic() - started < 1.5


def test_hung_redis_costs_at_most_the_publish_budget_once(settings, hung_redis):
    use_redis(settings, hung_redis)
    started = time.monotonic()
    assert events.publish([("loja.1", {"id": 1}), ("loja.1", {"id": 2}), ("user.1", {"id": 3})]) is False
    first = time.monotonic() - started
    assert first < events.PUBLISH_TIMEOUT_SECONDS + 1
    started = time.monotonic()
    assert events.publish([("loja.1", {"id": 4})]) is False
    assert time.monotonic() - started < 0.1


def test_webhook_answers_200_with_exact_stock_while_redis_hangs(settings, hung_redis, loja, make_produto,
                                                                post_webhook, django_capture_on_commit_callbacks):
    use_redis(settings, hung_redis)
    produto = make_produto(loja, "SKU-H", estoque=10, minimo=0)
    timings = []
    for n in range(3):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(loja, "orders/paid", order_payload(900 + n, [(1, "SKU-H", 1)]))
        timings.append(time.monotonic() - started)
        assert response.status_code == 200 and response.json()["status"] == "processed"
    assert Produto.objects.get(pk=produto.pk).estoque_atual == 7
    assert timings[0] < events.PUBLISH_TIMEOUT_SECONDS + 1.5
    assert max(timings[1:]) < 1.0  # publishing paused after the first failure
