"""The status document, CORS for the API and the sockets' origin rules, the open-socket gauge, log hygiene."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import resolve
from rest_framework.test import APIClient

from chegouhub.realtime import metrics
from chegouhub.common.logging import channels_log
from chegouhub.realtime.auth import origin_allowed
from chegouhub.realtime.routing import websocket_application
from tests.live import free_port
from tests.realtime.conftest import session_key_for

STATUS = "/api/sync-realtime/status/"


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_status_document_for_signed_in_users(api):
    body = api.get(STATUS).json()
    assert body["websockets_available"] is True
    assert body["features"]["stock_notifications"] is True
    assert body["endpoints"]["websocket_stock"] == "/ws/estoque/"
    assert body["endpoints"]["websocket_notifications"] == "/ws/notifications/"
    assert body["endpoints"]["events_polling"] == "/api/sync-realtime/events/"
    http = {name: path for name, path in body["endpoints"].items() if path.startswith("/api/")}
    assert set(http) == {"webhook_configure", "webhook_status", "webhook_test_connectivity", "webhook_cleanup",
                         "events_polling", "status"}  # CONTRACT sections 5 and 6
    for path in http.values():
        resolve(path)  # each one exists (raises Resolver404 otherwise)


def test_status_needs_authentication(db):
    assert APIClient().get(STATUS).status_code in (401, 403)


def test_status_tells_the_truth_when_redis_is_down(api, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [{"address": dead, "socket_connect_timeout": 0.5}]}}}
    body = api.get(STATUS).json()
    assert body["websockets_available"] is False
    assert body["channel_layer"] == "redis"


def test_api_cors_allows_configured_origins_with_credentials_only(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://front.example:3000"]
    ok = api.get(STATUS, HTTP_ORIGIN="http://front.example:3000")
    assert ok["Access-Control-Allow-Origin"] == "http://front.example:3000"
    assert ok["Access-Control-Allow-Credentials"] == "true"
    preflight = api.options(STATUS, HTTP_ORIGIN="http://front.example:3000",
                            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight["Access-Control-Allow-Origin"] == "http://front.example:3000"
    evil = api.get(STATUS, HTTP_ORIGIN="http://evil.example")
    assert "Access-Control-Allow-Origin" not in evil


@pytest.mark.django_db(transaction=True)
async def test_open_socket_gauge_and_logs_without_session_keys(make_user):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(make_user)()
    key = await database_sync_to_async(session_key_for)(user)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    channels_log.addHandler(handler)
    old_level = channels_log.level
    channels_log.setLevel(logging.INFO)
    try:
        before = metrics.OPEN_WEBSOCKETS._value.get()
        comm = WebsocketCommunicator(websocket_application, f"/ws/notifications/?session_key={key}")
        assert (await comm.connect(timeout=5))[0]
        assert json.loads(await comm.receive_from())["type"] == "connection_established"
        assert metrics.OPEN_WEBSOCKETS._value.get() == before + 1
        await comm.disconnect()
        assert metrics.OPEN_WEBSOCKETS._value.get() == before
    finally:
        channels_log.removeHandler(handler)
        channels_log.setLevel(old_level)
    messages = [r.getMessage() for r in records]
    assert "websocket connected" in messages and "websocket disconnected" in messages
    for record in records:
        assert key not in json.dumps(vars(record), default=str)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_cancelled_from_outside_leaves_the_gauge_and_the_sweeper(make_user):
    """A server stopping cancels its consumers' tasks: each still stops being counted and watched."""
    from channels.db import database_sync_to_async

    from chegouhub.realtime.sweeper import Sweeper

    def watching() -> int:
        return sum(len(sweeper.sockets) for sweeper in Sweeper._by_loop.values())

    user = await database_sync_to_async(make_user)()
    key = await database_sync_to_async(session_key_for)(user)
    before, watched = metrics.OPEN_WEBSOCKETS._value.get(), watching()
    comm = WebsocketCommunicator(websocket_application, f"/ws/notifications/?session_key={key}")
    assert (await comm.connect(timeout=5))[0]
    assert json.loads(await comm.receive_from())["type"] == "connection_established"
    assert metrics.OPEN_WEBSOCKETS._value.get() == before + 1 and watching() == watched + 1
    comm.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await comm.future
    assert metrics.OPEN_WEBSOCKETS._value.get() == before
    assert watching() == watched


def test_origin_rules(settings):
    settings.ALLOWED_HOSTS = ["api.example.com", "app.example.com", "*"]
    settings.CORS_ALLOWED_ORIGINS = ["https://front.example.net"]
    assert origin_allowed("https://api.example.com", "api.example.com")
    assert origin_allowed("https://app.example.com", "api.example.com")  # another explicit name, same port
    assert origin_allowed("https://front.example.net", "api.example.com")
    assert origin_allowed("https://front.example.net:443", None)
    assert not origin_allowed("http://app.example.com:8080", "api.example.com")
    assert not origin_allowed("https://evil.example.org", "api.example.com")  # "*" never makes an origin own
    assert not origin_allowed("not an origin", "api.example.com")
    settings.ALLOWED_HOSTS = ["[::1]"]
    assert origin_allowed("http://[::1]:8000", "[::1]:8000")
    assert not origin_allowed("http://[::1]:3000", "[::1]:8000")
