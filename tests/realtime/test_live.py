"""The real-time layer end to end: real server processes (uvicorn), real Redis, real sockets (`websockets`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.inventory.models import Produto
from chegouhub.realtime.models import Event
from tests.live import LiveServer
from tests.realtime.conftest import REDIS_TEST_URL, redis_answers, session_key_for, unavailable

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

ENVELOPE = {"type", "data", "id", "timestamp", "priority"}
FRONTEND = "http://front.example:3000"


@pytest.fixture(scope="module")
def prefix():
    """A channel prefix of this module's own: concurrent test runs sharing one Redis never cross."""
    if not redis_answers(REDIS_TEST_URL):
        unavailable(f"Redis is not reachable at {REDIS_TEST_URL}")
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, prefix):
    """The server of the protocol tests, on the shared Redis."""
    with django_db_blocker.unblock():
        srv = LiveServer(redis_url=REDIS_TEST_URL, env={"CHANNEL_LAYER_PREFIX": prefix,
                                                        "CORS_ALLOWED_ORIGINS": FRONTEND}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def second_server(django_db_setup, django_db_blocker, prefix):
    """Another process on the same database and Redis; its sockets time out after 1 s idle."""
    with django_db_blocker.unblock():
        srv = LiveServer(redis_url=REDIS_TEST_URL, env={"CHANNEL_LAYER_PREFIX": prefix,
                                                        "WS_IDLE_TIMEOUT_SECONDS": "1"}).start()
    yield srv
    srv.stop()


def paid_webhook(loja, order_id: int, sku: str, qty: int = 1) -> tuple[bytes, dict]:
    body = encode(order_payload(order_id, [(1, sku, qty)]))
    return body, signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain,
                                topic="orders/paid")


async def post_webhook(http: httpx.AsyncClient, url: str, loja, order_id: int, sku: str) -> httpx.Response:
    body, headers = paid_webhook(loja, order_id, sku)
    return await http.post(f"{url}/api/estoque/webhook/shopify/", content=body, headers=headers)


def ws(srv: LiveServer, path: str, *, key: str | None = None, cookie: str | None = None, origin: str | None = None):
    if key:
        path += ("&" if "?" in path else "?") + f"session_key={key}"
    headers = {"Cookie": f"sessionid={cookie}"} if cookie else None
    return connect(srv.ws_url + path, origin=origin, additional_headers=headers, compression=None, open_timeout=5)


async def recv(sock, timeout: float = 3.0) -> dict:
    message = json.loads(await asyncio.wait_for(sock.recv(), timeout))
    assert set(message) == ENVELOPE, message
    return message


async def close_code(sock, timeout: float = 5.0) -> int:
    try:
        while True:
            await asyncio.wait_for(sock.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def events_of_type(sock, count: int, timeout: float = 3.0) -> list[dict]:
    got = []
    while len(got) < count:
        got.append(await recv(sock, timeout))
    return got


# --- authentication and authorization -------------------------------------------------------


def test_session_cookie_and_session_key_work_anonymous_gets_4401_and_another_users_loja_4403(
        server, make_user, make_loja, make_produto):
    owner, intruder = make_user(), make_user()
    loja = make_loja(owner)
    intruder_loja = make_loja(intruder)
    make_produto(loja, "SKU-A", estoque=10, minimo=0)
    key, intruder_key = session_key_for(owner), session_key_for(intruder)

    async def scenario():
        async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", cookie=key) as by_cookie, \
                ws(server, f"/ws/estoque/?loja_id={loja.pk}", key=key) as by_query, \
                ws(server, f"/ws/estoque/?loja_id={intruder_loja.pk}", key=intruder_key) as intruders_own, \
                ws(server, "/ws/notifications/", key=intruder_key) as intruders_notes:
            for sock in (by_cookie, by_query, intruders_own, intruders_notes):
                assert (await recv(sock))["type"] == "connection_established"
            async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", key=intruder_key) as stolen:
                assert await close_code(stolen) == 4403
            async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", cookie=intruder_key) as stolen:
                assert await close_code(stolen) == 4403
            for path in (f"/ws/estoque/?loja_id={loja.pk}", "/ws/notifications/",
                         f"/ws/estoque/?loja_id={loja.pk}&session_key=forjada"):
                async with ws(server, path) as anonymous:
                    assert await close_code(anonymous) == 4401
            async with httpx.AsyncClient(timeout=10) as http:
                assert (await post_webhook(http, server.url, loja, 5001, "SKU-A")).status_code == 200
            for sock in (by_cookie, by_query):
                got = await events_of_type(sock, 2)
                assert {m["type"] for m in got} == {"estoque_atualizado", "venda_shopify_processada"}
                assert all(m["data"]["loja_id"] == loja.pk for m in got)
            # the intruder's sockets never see the owner's loja's events
            for sock in (intruders_own, intruders_notes):
                with pytest.raises(asyncio.TimeoutError):
                    await recv(sock, timeout=0.5)

    asyncio.run(scenario())
    # session keys never reach a log: the server's output, or its channels.log
    logs = [server.output_path, Path(server.env["LOG_DIR"]) / "channels.log"]
    for path in logs:
        text = path.read_text() if path.exists() else ""
        assert key not in text and intruder_key not in text, path


# --- protocol -----------------------------------------------------------------------------------


def test_ping_pong_bad_messages_and_oversized_frames(server, make_user, make_loja):
    owner = make_user()
    loja = make_loja(owner)
    key = session_key_for(owner)

    async def scenario():
        async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", key=key) as sock:
            hello = await recv(sock)
            assert hello == {**hello, "type": "connection_established", "data": {"loja_id": loja.pk}, "id": None}
            await sock.send(json.dumps({"type": "ping"}))
            assert (await recv(sock))["type"] == "pong"
            for bad in ("{nope", json.dumps({"type": "subscribe"}), json.dumps([1]),
                        json.dumps({"type": "resume", "last_event_id": "x"})):
                await sock.send(bad)
                error = await recv(sock)
                assert error["type"] == "error" and isinstance(error["data"]["erro"], str)
            await sock.send(json.dumps({"type": "ping"}))
            assert (await recv(sock))["type"] == "pong"  # still open
            await sock.send(json.dumps({"type": "ping", "pad": "x" * 5000}))  # > WS_MAX_CLIENT_FRAME_BYTES
            assert await close_code(sock) == 4413

    asyncio.run(scenario())


def test_idle_socket_is_closed_with_4408(second_server, make_user):
    owner = make_user()
    key = session_key_for(owner)
    srv = second_server  # WS_IDLE_TIMEOUT_SECONDS=1

    async def scenario():
        async with ws(srv, "/ws/notifications/", key=key) as busy, ws(srv, "/ws/notifications/", key=key) as idle:
            assert (await recv(busy))["type"] == "connection_established"
            assert (await recv(idle))["type"] == "connection_established"
            started = time.monotonic()
            for _ in range(4):  # pings keep the busy one open past the timeout
                await asyncio.sleep(0.4)
                await busy.send(json.dumps({"type": "ping"}))
                assert (await recv(busy))["type"] == "pong"
            assert await close_code(idle, timeout=5) == 4408
            assert 0.9 < time.monotonic() - started < 4

    asyncio.run(scenario())


def test_origin_refused_allowed_or_absent(server, make_user):
    owner = make_user()
    key = session_key_for(owner)

    async def scenario():
        for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
            with pytest.raises(InvalidStatus) as refused:
                async with ws(server, "/ws/notifications/", key=key, origin=origin):
                    pass
            assert refused.value.response.status_code == 403
        for origin in (server.url, FRONTEND, None):  # own host, CORS_ALLOWED_ORIGINS, no Origin at all
            async with ws(server, "/ws/notifications/", key=key, origin=origin) as sock:
                assert (await recv(sock))["type"] == "connection_established"
        # no Origin is judged by authentication alone
        async with ws(server, "/ws/notifications/") as anonymous:
            assert await close_code(anonymous) == 4401

    asyncio.run(scenario())


# --- several processes ----------------------------------------------------------------------------


def test_webhook_on_one_server_reaches_a_socket_on_another_within_a_second_and_polling_agrees(
        server, second_server, make_user, make_loja, make_produto):
    owner = make_user()
    loja = make_loja(owner)
    make_produto(loja, "SKU-X", estoque=50, minimo=0)
    key = session_key_for(owner)
    other = second_server
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

    async def scenario():
        received = []
        async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", key=key) as sock, \
                httpx.AsyncClient(timeout=10) as http:
            assert (await recv(sock))["type"] == "connection_established"
            for n in range(3):
                started = time.monotonic()
                response = await post_webhook(http, other.url, loja, 6000 + n, "SKU-X")
                assert response.status_code == 200, response.text
                first = await recv(sock, timeout=1.0)
                assert time.monotonic() - started < 1.0
                received += [first, await recv(sock, timeout=1.0)]
            polled = (await http.get(f"{other.url}/api/sync-realtime/events/",
                                     params={"since": before, "loja_id": loja.pk},
                                     headers={"Cookie": f"sessionid={key}"})).json()
        return received, polled

    received, polled = asyncio.run(scenario())
    assert [m["id"] for m in received] == sorted(m["id"] for m in received)
    assert polled["events"] == received  # same objects, same ids
    assert polled["last_id"] == received[-1]["id"]


# --- Redis outage ---------------------------------------------------------------------------------


def test_redis_outage_never_fails_a_webhook_and_resume_recovers_every_missed_event(
        private_redis, live_server_factory, make_user, make_loja, make_produto):
    owner = make_user()
    loja = make_loja(owner)
    produto = make_produto(loja, "SKU-R", estoque=100, minimo=0)
    key = session_key_for(owner)
    srv = live_server_factory(redis_url=private_redis.url)
    total = 18
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0

    async def status(http) -> bool:
        r = await http.get(f"{srv.url}/api/sync-realtime/status/", headers={"Cookie": f"sessionid={key}"})
        assert r.status_code == 200
        return r.json()["websockets_available"]

    async def scenario():
        seen: list[dict] = []

        async def listen(sock):
            try:
                while True:
                    seen.append(await recv(sock, timeout=30))
            except ConnectionClosed:
                pass

        async with httpx.AsyncClient(timeout=10) as http:
            assert await status(http) is True
            sock = await ws(srv, f"/ws/estoque/?loja_id={loja.pk}", key=key)
            assert (await recv(sock))["type"] == "connection_established"
            listener = asyncio.create_task(listen(sock))
            slowest = 0.0
            for n in range(total):
                if n == 6:
                    await asyncio.to_thread(private_redis.stop)
                    # the client goes away with Redis (the server closes it with 4503 anyway,
                    # except on the pub/sub layer, which re-subscribes by itself)
                    await sock.close()
                    await listener
                    assert await status(http) is False
                    # polling keeps working while the sockets cannot
                    r = await http.get(f"{srv.url}/api/sync-realtime/events/", params={"loja_id": loja.pk},
                                       headers={"Cookie": f"sessionid={key}"})
                    assert r.status_code == 200
                if n == 12:
                    await asyncio.to_thread(private_redis.start)
                started = time.monotonic()
                response = await post_webhook(http, srv.url, loja, 7000 + n, "SKU-R")
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 200, (n, response.text)
            assert slowest < 3.0
            assert await status(http) is True
            last_id = max((m["id"] for m in seen if m["id"] is not None), default=0)

            # reconnect and resume from the last id seen
            async with ws(srv, f"/ws/estoque/?loja_id={loja.pk}", key=key) as again:
                assert (await recv(again))["type"] == "connection_established"
                await again.send(json.dumps({"type": "resume", "last_event_id": last_id}))
                replay = []
                try:
                    while True:
                        replay.append(await recv(again, timeout=1.0))
                except asyncio.TimeoutError:
                    pass
                # and live again. The server may still be pausing publication after the outage
                # (see events.py); then the next event's prev_id reveals the skipped one and the
                # socket fills it from the log, so keep selling until something arrives.
                live, sold = [], 0
                while not live and sold < 8:
                    assert (await post_webhook(http, srv.url, loja, 7900 + sold, "SKU-R")).status_code == 200
                    sold += 1
                    try:
                        while True:
                            live.append(await recv(again, timeout=2))
                    except asyncio.TimeoutError:
                        pass
        return seen, last_id, replay, live, sold

    seen, last_id, replay, live, sold = asyncio.run(scenario())
    replay_ids, live_ids = [m["id"] for m in replay], [m["id"] for m in live]
    assert replay_ids and live_ids
    assert replay_ids + live_ids == _log_ids(loja.pk, after=last_id)  # every missed event, once, in order
    assert all(m["type"] in ("estoque_atualizado", "venda_shopify_processada") for m in replay + live)
    seen_ids = [m["id"] for m in seen if m["id"] is not None]
    assert seen_ids == sorted(seen_ids) and not set(seen_ids) & set(replay_ids)
    logged = _log_ids(loja.pk, after=before)
    assert seen_ids + replay_ids + live_ids == logged, (seen_ids, replay_ids, live_ids, logged)  # nothing lost
    assert Produto.objects.get(pk=produto.pk).estoque_atual == 100 - total - sold


def _log_ids(loja_id: int, *, after: int) -> list[int]:
    return list(Event.objects.filter(loja_id=loja_id, stream="estoque", id__gt=after).order_by("id")
                .values_list("id", flat=True))


# --- the seed's own JavaScript client, in a real browser -------------------------------------------

SEED_CLIENT = """
// From seed/sincronizacao-tempo-real.md, unchanged but for the host and the session key.
const sessionKey = %(key)s;
const wsUrl = `ws://%(host)s/ws/estoque/?loja_id=%(loja)d&session_key=${sessionKey}`;
const socket = new WebSocket(wsUrl);
window.__socket = socket;

socket.onmessage = function(event) {
    const data = JSON.parse(event.data);

    switch(data.type) {
        case 'venda_shopify_processada':
            console.log('Venda processada:', JSON.stringify(data.data));
            break;
        case 'estoque_atualizado':
            console.log('Estoque atualizado:', JSON.stringify(data.data));
            break;
        case 'produto_estoque_zero':
            console.log('ALERTA CRÍTICO:', JSON.stringify(data.data));
            break;
        case 'alerta_estoque_gerado':
            console.log('Novo alerta:', JSON.stringify(data.data));
            break;
    }
};

setInterval(() => {
    if (socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({type: 'ping'}));
    }
}, 30000);
"""

CROSS_ORIGIN_PROBE = """
(url) => new Promise((resolve) => {
  const s = new WebSocket(url);
  s.onopen = () => { resolve("open"); s.close(); };
  s.onclose = (e) => resolve("closed " + e.code);
})
"""


@pytest.mark.browser
def test_the_seeds_javascript_client_in_a_browser(server, second_server, make_user, make_loja, make_produto):
    import os
    import shutil

    from tests.conftest import IN_CI

    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    chromium = chromium if os.path.exists(chromium) else shutil.which("chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - pinned test dependency
        chromium = None
    if not chromium:
        if IN_CI:
            pytest.fail("playwright or chromium is missing")
        pytest.skip("playwright or chromium is missing")
    owner = make_user()
    loja = make_loja(owner)
    make_produto(loja, "SKU-B", estoque=1, minimo=0, nome="Caneca")
    key = session_key_for(owner)
    host = server.url.removeprefix("http://")

    async def scenario():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
            page = await browser.new_page()
            logged: list[str] = []
            page.on("console", lambda message: logged.append(message.text))
            await page.goto(f"{server.url}/healthz")  # a page of the project's own origin
            await page.evaluate(SEED_CLIENT % {"key": json.dumps(key), "host": host, "loja": loja.pk})
            await page.wait_for_function("window.__socket.readyState === WebSocket.OPEN", timeout=5000)
            async with httpx.AsyncClient(timeout=10) as http:
                assert (await post_webhook(http, second_server.url, loja, 8001, "SKU-B")).status_code == 200
            deadline = time.monotonic() + 5
            while not any(line.startswith("ALERTA CRÍTICO:") for line in logged) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # a page of another origin (the other server's port) may not open the socket
            await page.goto(f"{second_server.url}/healthz")
            cross = await page.evaluate(CROSS_ORIGIN_PROBE, f"{server.ws_url}/ws/estoque/?loja_id={loja.pk}"
                                                            f"&session_key={key}")
            await browser.close()
            return logged, cross

    logged, cross = asyncio.run(scenario())
    kinds = {line.split(":")[0] for line in logged}
    assert {"Venda processada", "Estoque atualizado", "ALERTA CRÍTICO"} <= kinds, logged
    sale = json.loads(next(line for line in logged if line.startswith("Venda processada:")).split(":", 1)[1])
    assert sale["itens"][0]["estoque_atual"] == 0 and sale["loja_id"] == loja.pk
    assert cross == "closed 1006"  # refused at the handshake (HTTP 403)
