from __future__ import annotations

import itertools
import os

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

from chegouhub.devtools.payloads import encode, signed_headers
from chegouhub.inventory.services import create_produto
from chegouhub.stores.models import Loja
from tests.devtools.fake_fixtures import fake_shopify, fake_shopify_server  # noqa: F401 (fixtures)

IN_CI = os.environ.get("CI", "").lower() == "true"
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.FastPBKDF2PasswordHasher"]


@pytest.fixture(autouse=True)
def _development_allowances(settings):
    """The suite runs with DJANGO_DEBUG=false, yet its fake Shopify and servers live on
    http://127.0.0.1: plain http and loopback webhook addresses are allowed explicitly here (tests
    of the production rule turn it off)."""
    settings.WEBHOOK_ALLOW_INSECURE_URLS = True
    # Likewise the suite scrapes /metrics without a token (tests/ops/test_metrics_access.py checks the rule).
    settings.METRICS_OPEN_WITHOUT_TOKEN = True


@pytest.fixture(autouse=True)
def _clear_caches():
    for alias in ("default", "local"):
        try:
            caches[alias].clear()
        except Exception:
            pass
    yield


@pytest.fixture(autouse=True)
def _publishing_not_paused():
    """A test that breaks the channel layer leaves publishing paused (a back-off of seconds): the
    next test starts with it running, as a fresh process does."""
    from chegouhub.realtime import events

    yield
    events._publish_paused_until, events._publish_failures = 0.0, 0


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, password: str = "senha-forte-123"):
        username = username or f"user{next(_seq)}"
        return get_user_model().objects.create_user(username=username, password=password)

    return make


@pytest.fixture
def user(make_user):
    return make_user("ana")


@pytest.fixture
def other_user(make_user):
    return make_user("bruno")


@pytest.fixture
def make_loja(db):
    def make(owner, *, shop: str | None = None, secret: str = "shpss_test_secret_0001", ativo: bool = True,
             token: str = "shpat_test_token_0001") -> Loja:
        n = next(_seq)
        return Loja.objects.create(
            owner=owner,
            nome=f"Loja {n}",
            shop_domain=shop or f"loja-{n}.myshopify.com",
            webhook_secret=secret,
            access_token=token,
            ativo=ativo,
        )

    return make


@pytest.fixture
def loja(make_loja, user):
    return make_loja(user)


@pytest.fixture
def make_produto(db):
    def make(loja, sku: str, estoque: int = 10, minimo: int = 2, nome: str | None = None):
        return create_produto(loja=loja, sku=sku, nome=nome or f"Produto {sku}", estoque_minimo=minimo,
                              estoque_inicial=estoque)

    return make


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def post_webhook(client):
    """POST a delivery to the receiver, signed as Shopify signs it (unless told otherwise)."""

    def post(loja, topic: str, payload, *, webhook_id=None, event_id=None, secret=None, headers=None,
             raw: bytes | None = None, remote_addr: str = "10.9.8.7"):
        body = raw if raw is not None else encode(payload)
        h = signed_headers(body=body, secret=secret or loja.webhook_secret, shop_domain=loja.shop_domain,
                           topic=topic, webhook_id=webhook_id, event_id=event_id)
        if headers:
            h.update(headers)
            h = {k: v for k, v in h.items() if v is not None}
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in h.items() if k != "Content-Type"}
        return client.generic("POST", "/api/estoque/webhook/shopify/", body, content_type="application/json",
                              REMOTE_ADDR=remote_addr, **extra)

    return post


@pytest.fixture
def captured_events(monkeypatch):
    """What was handed to the channel layer after commit."""
    from chegouhub.realtime import events

    sent: list[tuple[str, dict]] = []
    real = events.publish

    def capture(messages):
        sent.extend(messages)
        return real(messages)

    monkeypatch.setattr(events, "publish", capture)
    return sent


@pytest.fixture
def live_server_factory(transactional_db):
    """Start real server processes on the current test database; all stopped after the test."""
    from tests.live import LiveServer

    started: list[LiveServer] = []

    def start(**kwargs) -> LiveServer:
        server = LiveServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# The server paths a webhook can take.
WEBHOOK_PATHS = ["lean", "django"]


@pytest.fixture(params=WEBHOOK_PATHS)
async def webhook_asgi(request):
    """An httpx client on the real ASGI application (`config.asgi:application`), with the lean route
    on ("lean") or off ("django"): a test using it runs once per server path."""
    import httpx
    from asgiref.sync import sync_to_async
    from django.db import connections

    from chegouhub.shopify import lean
    from config.asgi import application

    route = application.application_mapping["http"].app  # BodyLimitMiddleware -> LeanWebhookRoute
    saved, route.lean = route.lean, request.param == "lean"
    transport = httpx.ASGITransport(app=application, client=("10.7.7.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    route.lean = saved
    await lean.close_pools()
    await sync_to_async(connections.close_all)()
