"""Fast in-process tests of the sockets (channels' WebsocketCommunicator, in-memory channel layer)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction

from chegouhub.realtime import consumers as consumers_module
from chegouhub.realtime import events as events_module
from chegouhub.realtime.events import NewEvent, group_message, record_events
from chegouhub.realtime.routing import websocket_application
from tests.realtime.conftest import session_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]

ENVELOPE = {"type", "data", "id", "timestamp", "priority"}


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.WS_IDLE_TIMEOUT_SECONDS = 30
    settings.WS_GROUP_REFRESH_SECONDS = 3600


def communicator(path: str, *, cookie: str | None = None, origin: str | None = None, host: str = "testserver"):
    headers = [(b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(websocket_application, path, headers=headers)


async def receive(comm, timeout=2.0) -> dict:
    message = json.loads(await comm.receive_from(timeout=timeout))
    assert set(message) == ENVELOPE, message
    return message


async def open_socket(path, **kwargs):
    comm = communicator(path, **kwargs)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    hello = await receive(comm)
    assert hello["type"] == "connection_established"
    return comm, hello


def stock_event(loja_id: int, n: int) -> NewEvent:
    return NewEvent(
        type="estoque_atualizado",
        loja_id=loja_id,
        data={"loja_id": loja_id, "produto_id": n, "sku": f"SKU{n}", "estoque_anterior": n + 1, "estoque_atual": n,
              "quantidade": -1, "origem": "manual"},
    )


@sync_to_async
def emit(loja_id: int, count: int = 1) -> list[int]:
    """Record stock events in one committed transaction (published on commit, as in production)."""
    with transaction.atomic():
        return [e.id for e in record_events([stock_event(loja_id, i) for i in range(count)])]


@sync_to_async
def setup_owner(make_user, make_loja):
    owner = make_user()
    loja = make_loja(owner)
    return owner, loja, session_key_for(owner)


async def test_session_cookie_and_session_key_query_both_authenticate(make_user, make_loja):
    owner, loja, key = await setup_owner(make_user, make_loja)
    comm, hello = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    assert hello["data"] == {"loja_id": loja.pk} and hello["id"] is None and hello["priority"] == "normal"
    await comm.disconnect()
    comm, hello = await open_socket(f"/ws/estoque/?loja_id={loja.pk}&session_key={key}")
    assert hello["data"] == {"loja_id": loja.pk}
    await comm.disconnect()
    comm, hello = await open_socket(f"/ws/notifications/?session_key={key}")
    assert hello["data"] == {}
    await comm.disconnect()


async def test_anonymous_is_closed_with_4401():
    for path in ["/ws/estoque/?loja_id=1", "/ws/notifications/", "/ws/notifications/?session_key=nao-existe",
                 "/ws/notifications/?session_key=", f"/ws/notifications/?session_key={'x' * 500}"]:
        comm = communicator(path)
        connected, _ = await comm.connect(timeout=5)
        assert connected  # accepted, then closed with the code (a refused handshake carries no code)
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}, path
    connected, _ = await communicator("/ws/nada/").connect(timeout=5)
    assert connected is False  # no such socket: refused at the handshake


async def test_another_users_loja_is_closed_with_4403_and_missing_loja_id_with_4400(make_user, make_loja):
    owner, loja, _ = await setup_owner(make_user, make_loja)
    intruder, _, intruder_key = await setup_owner(make_user, make_loja)
    for path, code in [(f"/ws/estoque/?loja_id={loja.pk}", 4403), ("/ws/estoque/?loja_id=999999", 4403),
                       ("/ws/estoque/", 4400), ("/ws/estoque/?loja_id=abc", 4400),
                       ("/ws/estoque/?loja_id=%C2%B2", 4400)]:
        comm = communicator(path, cookie=intruder_key)
        assert (await comm.connect(timeout=5))[0]
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": code}, path


async def test_live_events_reach_the_owner_only_with_the_envelope(make_user, make_loja):
    owner, loja, key = await setup_owner(make_user, make_loja)
    other, other_loja, other_key = await setup_owner(make_user, make_loja)
    mine, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    theirs, _ = await open_socket(f"/ws/estoque/?loja_id={other_loja.pk}", cookie=other_key)
    ids = await emit(loja.pk, 2)
    got = [await receive(mine), await receive(mine)]
    assert [m["id"] for m in got] == ids
    assert got[0]["type"] == "estoque_atualizado" and got[0]["data"]["loja_id"] == loja.pk
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


async def test_ping_pong_and_bad_messages_keep_the_socket_open(make_user, make_loja):
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    pong = await receive(comm)
    assert pong["type"] == "pong" and pong["id"] is None
    for bad in ["not json", "[1,2]", json.dumps({"no": "type"}), json.dumps({"type": "dance"}),
                json.dumps({"type": "resume"}), json.dumps({"type": "resume", "last_event_id": -1}),
                json.dumps({"type": "resume", "last_event_id": True})]:
        await comm.send_to(text_data=bad)
        error = await receive(comm)
        assert error["type"] == "error" and error["data"]["erro"], bad
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await receive(comm))["type"] == "error"
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    assert (await receive(comm))["type"] == "pong"
    await comm.disconnect()


async def test_oversized_frame_closes_with_4413(settings, make_user, make_loja):
    settings.WS_MAX_CLIENT_FRAME_BYTES = 100
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    await comm.send_to(text_data=json.dumps({"type": "ping", "pad": "é" * 60}))  # 60 chars, > 100 bytes
    assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4413}


async def test_idle_socket_is_closed_with_4408_and_activity_keeps_it(settings, make_user, make_loja):
    settings.WS_IDLE_TIMEOUT_SECONDS = 0.4
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    for _ in range(3):  # pinging every 0.2 s keeps it open past the timeout
        await asyncio.sleep(0.2)
        await comm.send_to(text_data='{"type":"ping"}')
        assert (await receive(comm))["type"] == "pong"
    assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4408}


async def test_resume_replays_missed_events_in_order_then_live_without_duplicates(make_user, make_loja):
    _, loja, key = await setup_owner(make_user, make_loja)
    first = await emit(loja.pk, 3)
    missed = await emit(loja.pk, 4)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    await comm.send_to(text_data=json.dumps({"type": "resume", "last_event_id": first[-1]}))
    replay = [await receive(comm) for _ in missed]
    assert [m["id"] for m in replay] == missed
    live = await emit(loja.pk, 2)
    assert [(await receive(comm))["id"] for _ in live] == live
    # a second resume from the same point sends only what this socket has not sent
    await comm.send_to(text_data=json.dumps({"type": "resume", "last_event_id": first[-1]}))
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_last_event_id_at_connect_replays_before_anything_live(make_user, make_loja):
    _, loja, key = await setup_owner(make_user, make_loja)
    missed = await emit(loja.pk, 3)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}&last_event_id=0", cookie=key)
    assert [(await receive(comm))["id"] for _ in missed] == missed
    await comm.disconnect()


async def emit_unpublished(monkeypatch, loja_id: int, transactions: int) -> tuple[list, list[int]]:
    """Commit events whose publications are kept back (and returned) instead of sent; publishing
    stays captured into the same list until the caller undoes the patch."""
    held: list = []
    monkeypatch.setattr(events_module, "publish", lambda messages: held.extend(messages))
    ids: list[int] = []
    for _ in range(transactions):
        ids += await emit(loja_id)
    return held, ids


async def test_out_of_order_and_lost_publications_are_filled_from_the_log(monkeypatch, make_user, make_loja):
    """Event ids commit in order per scope, but publications may arrive out of order or not at all."""
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    held, ids = await emit_unpublished(monkeypatch, loja.pk, 3)
    assert [m[1]["id"] for m in held] == ids
    assert [m.prev_id for m in held[1:]] == ids[:-1]
    layer = get_channel_layer()
    # the 3rd arrives first, the 1st and 2nd late: sent once each, in id order
    for group, payload in [held[2], held[0], held[1]]:
        prev = next(m.prev_id for m in held if m[1]["id"] == payload["id"])
        await layer.group_send(group, group_message(payload, prev))
    assert [(await receive(comm))["id"] for _ in range(3)] == ids
    assert await comm.receive_nothing(timeout=0.2)
    lost = await emit(loja.pk)  # its publication never happens (held, never sent)
    monkeypatch.undo()
    fifth = await emit(loja.pk)  # its prev_id (the lost one) reveals the gap
    assert [(await receive(comm))["id"] for _ in range(2)] == lost + fifth
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_an_event_ahead_of_its_predecessor_waits_for_it_live_without_reading_the_log(
        monkeypatch, settings, make_user, make_loja):
    """Two processes publish one loja's events out of order: the socket holds the early one briefly."""
    settings.WS_GAP_WAIT_SECONDS = 5.0
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    held, ids = await emit_unpublished(monkeypatch, loja.pk, 2)
    monkeypatch.undo()
    reads = []
    real_fetch = consumers_module._fetch_events
    monkeypatch.setattr(consumers_module, "_fetch_events", lambda *a: reads.append(a) or real_fetch(*a))
    layer = get_channel_layer()
    second, first = held[1], held[0]
    await layer.group_send(second[0], group_message(second[1], second.prev_id))
    assert await comm.receive_nothing(timeout=0.3)  # held, not sent ahead of the first
    await layer.group_send(first[0], group_message(first[1], first.prev_id))
    assert [(await receive(comm))["id"] for _ in range(2)] == ids
    assert reads == []  # resolved live: no database read
    await comm.disconnect()


async def test_group_membership_is_refreshed_on_long_lived_sockets(settings, make_user, make_loja):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                                           "CONFIG": {"group_expiry": 1}}}
    settings.WS_GROUP_REFRESH_SECONDS = 0.3
    _, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)
    await asyncio.sleep(2.2)  # past group_expiry (whole seconds): without the refresh the membership is gone
    ids = await emit(loja.pk)
    assert (await receive(comm))["id"] == ids[0]
    await comm.disconnect()


async def test_notifications_socket_gets_the_users_notifications(make_user, make_loja):
    owner, loja, key = await setup_owner(make_user, make_loja)
    comm, _ = await open_socket("/ws/notifications/", cookie=key)

    @sync_to_async
    def notify():
        with transaction.atomic():
            return record_events([NewEvent(type="system_notification", user_id=owner.pk, priority="alta",
                                           data={"message": "Olá", "priority": "alta"})])[0].id

    event_id = await notify()
    message = await receive(comm)
    assert (message["type"], message["id"], message["priority"]) == ("system_notification", event_id, "alta")
    await comm.disconnect()


async def test_origin_check_at_the_handshake(settings, make_user, make_loja):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:3000"]
    _, loja, key = await setup_owner(make_user, make_loja)
    for origin, allowed in [
        ("http://testserver", True),
        ("http://evil.example", False),
        ("http://localhost:3000", True),  # in CORS_ALLOWED_ORIGINS
        ("http://localhost:3001", False),
        ("null", False),
        (None, True),  # no Origin: judged by authentication alone
    ]:
        comm = communicator(f"/ws/estoque/?loja_id={loja.pk}", cookie=key, origin=origin)
        connected, _ = await comm.connect(timeout=5)
        assert connected is allowed, origin
        await comm.disconnect()


async def test_stock_reaching_zero_arrives_with_critica_priority(make_user, make_loja, make_produto):
    from chegouhub.inventory.services import adjust_stock

    _, loja, key = await setup_owner(make_user, make_loja)
    produto = await sync_to_async(make_produto)(loja, "SKU-Z", estoque=1, minimo=0)
    comm, _ = await open_socket(f"/ws/estoque/?loja_id={loja.pk}", cookie=key)

    @sync_to_async
    def sell_last_one():
        with transaction.atomic():
            adjust_stock(produto=produto, quantidade=-1, motivo="venda no balcão")

    await sell_last_one()
    got = {}
    for _ in range(3):
        message = await receive(comm)
        got[message["type"]] = message
    assert got["estoque_atualizado"]["data"]["estoque_atual"] == 0
    assert got["produto_estoque_zero"]["priority"] == "critica"
    assert got["alerta_estoque_gerado"]["priority"] == "critica"
    assert got["alerta_estoque_gerado"]["data"]["tipo"] == "estoque_zerado"
    await comm.disconnect()


async def test_an_inactive_user_or_a_changed_password_logs_the_socket_out(make_user, make_loja):
    """As Django logs pages out: the session alone is not enough once the user is off or re-keyed."""
    owner, loja, key = await setup_owner(make_user, make_loja)
    path = f"/ws/estoque/?loja_id={loja.pk}"

    @sync_to_async
    def change(**fields):
        for name, value in fields.items():
            setattr(owner, name, value)
        owner.save()

    await change(is_active=False)
    comm = communicator(path, cookie=key)
    assert (await comm.connect(timeout=5))[0]
    assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    await change(is_active=True)
    comm, _ = await open_socket(path, cookie=key)  # the same session is good again
    await comm.disconnect()
    await sync_to_async(owner.set_password)("uma-senha-nova-e-longa")
    await change()
    comm = communicator(path, cookie=key)
    assert (await comm.connect(timeout=5))[0]
    assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}


def _bare_consumer(log: dict[int, dict], sent: list[int], gate: asyncio.Event, visible: list[int]):
    """An EstoqueConsumer without a server: a client that stalls on event 6 until `gate` opens, and a
    log read that sees the events up to `visible[0]` (what had committed when it ran)."""
    consumer = consumers_module.EstoqueConsumer()
    consumer.loja_id, consumer.user_id = 1, 1

    async def send(text_data=None, **_):
        event_id = json.loads(text_data)["id"]
        if event_id == 6:
            await gate.wait()
        await asyncio.sleep(0.001)
        sent.append(event_id)

    async def fetch(after, upto=None):
        limit = visible[0]
        await asyncio.sleep(0.02)
        return [log[i] for i in sorted(log) if after < i <= limit and (upto is None or i <= upto)]

    consumer.send, consumer._fetch = send, fetch
    return consumer


async def test_a_gap_fill_and_live_events_arriving_meanwhile_never_interleave(settings):
    settings.WS_GAP_WAIT_SECONDS = 0.01

    def event(i: int) -> dict:
        return {"id": i, "type": "estoque_atualizado", "data": {}, "timestamp": "t", "priority": "normal"}

    log = {i: event(i) for i in range(1, 13)}
    sent: list[int] = []
    gate = asyncio.Event()
    visible = [5]
    consumer = _bare_consumer(log, sent, gate, visible)
    # 1 and 2 were never published (Redis was down); 3-5 arrive, the gap timer fires and the log is
    # read (it has 1-5); 6-8 commit and arrive live meanwhile, and the client stalls on 6 while 9
    # arrives too.
    await consumer.event_batch({"events": [log[3], log[4], log[5]], "prev_ids": [2, 3, 4]})
    await asyncio.sleep(0.015)
    visible[0] = 9
    live = [asyncio.ensure_future(consumer.event_batch({"events": [log[6], log[7], log[8]], "prev_ids": [5, 6, 7]}))]
    while len(sent) < 5:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)
    live.append(asyncio.ensure_future(consumer.event_message({"event": log[9], "prev_id": 8})))
    await asyncio.sleep(0.02)
    gate.set()
    await asyncio.gather(*live)
    await asyncio.sleep(0.05)
    assert consumer._fill_task.done() and consumer._fill_task.exception() is None
    assert sent == list(range(1, 10))
    # a resume while an early event is held: everything once, in order
    visible[0] = 12
    await consumer.event_message({"event": log[11], "prev_id": 10})
    await consumer.receive(text_data=json.dumps({"type": "resume", "last_event_id": 9}))
    await consumer.event_message({"event": log[12], "prev_id": 11})
    await asyncio.sleep(0.05)
    assert sent == list(range(1, 13))
    await consumer._teardown(None)
