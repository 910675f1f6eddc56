"""Bodies over their route's limit are refused with 413 before they are read, on every path
(CONTRACT section 8): counted at the ASGI boundary, for a declared length and for a chunked body."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from chegouhub.shopify import lean
from tests.live import LiveServer

CHUNK = 64 * 1024


async def _call(path: str, *, total: int, declared: bool) -> tuple[int, int, dict]:
    """POST `total` bytes in chunks through the real ASGI application; (status, bytes it read, body)."""
    from config.asgi import application

    sent = {"bytes": 0}
    answer: dict = {"status": None, "body": b""}

    async def receive():
        if sent["bytes"] >= total:
            await asyncio.sleep(3600)  # nothing more will come
        chunk = min(CHUNK, total - sent["bytes"])
        sent["bytes"] += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": sent["bytes"] < total}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(total).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("10.3.3.3", 1234), "server": ("127.0.0.1", 80)}
    await asyncio.wait_for(application(scope, receive, send), 30)
    await lean.close_pools()
    await sync_to_async(connections.close_all)()
    import json

    return answer["status"], sent["bytes"], json.loads(answer["body"] or b"{}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path,limit_mib", [("/api/auth/token/", 1), ("/api/estoque/webhook/shopify/", 5),
                                            ("/api/lojas/", 1)])
async def test_an_over_limit_body_is_refused_having_read_at_most_the_limit(path, limit_mib, declared):
    status, read, body = await _call(path, total=200 * 2**20, declared=declared)
    assert status == 413
    assert body == {"erro": f"Corpo maior que o limite de {limit_mib} MiB."}
    # a declared length is refused before a byte is read; a chunked body one chunk past the limit
    assert read <= (0 if declared else limit_mib * 2**20 + CHUNK)


@pytest.mark.django_db(transaction=True)
async def test_a_body_within_the_limit_still_reaches_the_route():
    status, _, body = await _call("/api/auth/token/", total=2 * CHUNK, declared=True)
    assert status == 400  # read whole and judged by the view: not JSON credentials
    assert status != 413


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_chunked_flood_to_a_live_server_is_answered_413_promptly():
    sent = {"bytes": 0}

    def flood():
        while sent["bytes"] < 100 * 2**20:
            sent["bytes"] += CHUNK
            yield b"x" * CHUNK

    with LiveServer() as server:
        try:
            r = httpx.post(f"{server.url}/api/auth/token/", content=flood(), timeout=30,
                           headers={"content-type": "application/json"})
            status = r.status_code
        except httpx.HTTPError:
            status = None  # the server closed the connection after its 413, mid-upload
        assert status in (413, None)
        # the server stopped taking the body long before the 100 MiB it was offered
        assert sent["bytes"] < 40 * 2**20
        assert httpx.get(f"{server.url}/healthz").status_code == 200
