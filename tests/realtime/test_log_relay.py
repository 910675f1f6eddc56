"""The embedded default (no Redis): what another process records reaches a server's sockets through
the event log relay (WS_LOG_RELAY_SECONDS), and without it only at the scope's next live event."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.db import connection

from chegouhub.inventory.services import adjust_stock
from tests.live import LiveServer
from tests.realtime.conftest import session_key_for
from tests.realtime.test_live import recv, ws

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def change_stock(produto) -> None:
    try:
        adjust_stock(produto=produto, quantidade=-3, motivo="quebra")
    finally:
        connection.close()  # this thread's own connection, not left open on the test database


@pytest.mark.parametrize("relay", [True, False])
def test_an_event_recorded_by_another_process_reaches_the_socket(relay, make_user, make_loja, make_produto):
    owner = make_user()
    loja = make_loja(owner)
    produto = make_produto(loja, "SKU-R", estoque=20, minimo=0)
    key = session_key_for(owner)
    # No REDIS_URL: the server's in-memory layer; this test process is "the other process".
    with LiveServer(env={"WS_LOG_RELAY_SECONDS": "0.2" if relay else "0"}) as server:

        async def scenario():
            async with ws(server, f"/ws/estoque/?loja_id={loja.pk}", key=key) as sock:
                assert (await recv(sock))["type"] == "connection_established"
                await asyncio.sleep(0.3)  # the relay's first read of where the log ends
                started = time.monotonic()
                await asyncio.to_thread(change_stock, produto)
                try:
                    event = await recv(sock, timeout=2.0)
                except TimeoutError:
                    return None, None
                return event, time.monotonic() - started

        event, seconds = asyncio.run(scenario())
    if relay:
        assert event is not None and event["type"] == "estoque_atualizado"
        assert event["data"]["produto_id"] == produto.pk and event["data"]["estoque_atual"] == 17
        assert seconds < 1.5
    else:
        assert event is None  # the gap the relay closes
