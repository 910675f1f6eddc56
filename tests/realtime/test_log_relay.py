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


@pytest.mark.django_db
def test_the_relay_reads_each_group_after_its_cursor_with_exact_prev_ids(make_user, make_loja, make_produto,
                                                                          monkeypatch):
    from chegouhub.realtime import relay
    from chegouhub.realtime.events import deposito_group
    from chegouhub.realtime.models import Event

    owner = make_user()
    loja, other = make_loja(owner), make_loja(owner)
    produto = make_produto(loja, "SKU-A", estoque=50, minimo=0)
    make_produto(other, "SKU-B", estoque=50, minimo=0)
    group = deposito_group(loja.deposito_id)
    start = Event.objects.filter(deposito_id=loja.deposito_id).order_by("-id").values_list("id", flat=True).first()
    for _ in range(3):
        adjust_stock(produto=produto, quantidade=-1, motivo="quebra")
    ids = list(Event.objects.filter(deposito_id=loja.deposito_id, id__gt=start).order_by("id").values_list("id", flat=True))
    assert len(ids) == 3
    messages, moved, full = relay.read_new_events({group: start})
    assert [m[1]["id"] for m in messages] == ids and {m[0] for m in messages} == {group}  # not the other depósito
    assert [m.prev_id for m in messages] == [start, *ids[:2]]
    assert moved == {group: ids[-1]} and not full
    monkeypatch.setattr(relay, "READ_LIMIT", 2)
    messages, moved, full = relay.read_new_events({group: start})
    assert [m[1]["id"] for m in messages] == ids[:2] and moved == {group: ids[1]} and full
