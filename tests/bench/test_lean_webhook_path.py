"""The lean webhook route (chegouhub/shopify/lean/) keeps every rule of the Django view.

Driven through the real ASGI application (`config.asgi:application`), so the request takes the
same route as under uvicorn. The common case is served by the lean handler; each test here
compares it with the Django view's result or with CONTRACT section 4.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from chegouhub.devtools.payloads import encode, order_payload, refund_payload, signed_headers
from chegouhub.inventory.models import Alerta, Mapeamento, Movimentacao, Produto
from chegouhub.realtime.models import Event
from chegouhub.shopify import lean
from chegouhub.shopify.lean import batch as lean_batch
from chegouhub.shopify.lean import pool as lean_pool
from chegouhub.shopify.lean import route as lean_route
from chegouhub.shopify.models import OrderLedger, WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True)]
URL = "/api/estoque/webhook/shopify/"


@pytest.fixture
async def asgi():
    from config.asgi import application

    transport = httpx.ASGITransport(app=application, client=("10.1.2.3", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    await lean.close_pools()
    await sync_to_async(connections.close_all)()  # the helper thread's connection: the test database can go


def _signed(loja, topic, payload=None, *, raw=None, **kw):
    body = raw if raw is not None else encode(payload)
    return body, signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic, **kw)


async def post(asgi, loja, topic, payload=None, *, raw=None, headers=None, **kw):
    body, h = _signed(loja, topic, payload, raw=raw, **kw)
    if headers:
        h.update(headers)
        h = {k: v for k, v in h.items() if v is not None}
    return await asgi.post(URL, content=body, headers=h)


@sync_to_async
def stock(produto) -> int:
    return Produto.objects.get(pk=produto.pk).estoque_atual


@sync_to_async
def rows(model, **filters):
    return list(model.objects.filter(**filters).order_by("id"))


def _make(make_produto, loja, sku, estoque, minimo=2):
    return make_produto(loja, sku, estoque=estoque, minimo=minimo)


@pytest.fixture(autouse=True)
def no_remembered_skus():
    """Each test starts with nothing remembered, so which path a batch takes does not depend on
    the tests before it."""
    lean_batch._resolved.clear()
    yield
    lean_batch._resolved.clear()


@pytest.fixture
def lean_counter(monkeypatch):
    """How many requests the lean handler finished itself (not handed to the Django code)."""
    calls = {"lean": 0, "django": 0}
    real_process, real_django = lean_batch._process, lean_route._django_receive

    async def counting_process(items, on_commit=None):
        def counted(answers):
            calls["lean"] += len(answers)  # a batch answers each of its deliveries, once committed
            if on_commit is not None:
                on_commit(answers)

        return await real_process(items, on_commit=counted)

    def counting_django(*a, **kw):
        calls["django"] += 1
        return real_django(*a, **kw)

    monkeypatch.setattr(lean_batch, "_process", counting_process)
    monkeypatch.setattr(lean_route, "_django_receive", counting_django)
    return calls


async def received_events(layer, channel, n: int) -> list[tuple[dict, int]]:
    """(event, prev_id) pairs from the layer until n events came, whether batched or one by one.

    The lean route publishes a transaction's events as one `event.batch`; the Django path publishes
    each `record_events` call on its own.
    """
    got = []
    while len(got) < n:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        if message["type"] == "event.batch":
            got += list(zip(message["events"], message["prev_ids"]))
        else:
            got.append((message["event"], message["prev_id"]))
    return got


async def test_new_paid_order_takes_stock_writes_everything_and_publishes(asgi, loja, make_produto, lean_counter):
    camisa = await sync_to_async(_make)(make_produto, loja, "CAMISA-P", 10)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(f"deposito.{loja.deposito_id}", channel)
    await post(asgi, loja, "orders/paid", order_payload(500, [(1, "CAMISA-P", 1)]))
    await received_events(layer, channel, 2)  # the first sale's two events
    sale = order_payload(501, [(1, "CAMISA-P", 3), (2, "NAO-EXISTE", 1)])
    r = await post(asgi, loja, "orders/paid", sale, webhook_id="wh-lean-1")
    assert (r.status_code, r.json()) == (200, {"status": "processed"})
    assert lean_counter == {"lean": 2, "django": 0}
    assert await stock(camisa) == 6
    (mov,) = await rows(Movimentacao, produto=camisa, referencia="501")
    assert (mov.quantidade, mov.estoque_anterior, mov.estoque_atual, mov.origem) == (-3, 9, 6, "shopify_pedido_pago")
    (delivery,) = await rows(WebhookDelivery, webhook_id="wh-lean-1")
    assert (delivery.status, delivery.order_id, delivery.unmapped_skus, delivery.attempts) == (
        "processed", 501, ["NAO-EXISTE"], 1)
    assert bytes(delivery.body) == encode(sale)
    ledger = (await rows(OrderLedger, loja=loja, order_id=501))[0]
    assert ledger.paid and not ledger.cancelled
    assert ledger.applied == {"1": -3}
    events = await rows(Event, loja=loja)
    assert [e.type for e in events][-2:] == ["estoque_atualizado", "venda_shopify_processada"]
    got = await received_events(layer, channel, 2)
    assert [e["type"] for e, _ in got] == ["estoque_atualizado", "venda_shopify_processada"]
    assert [e["id"] for e, _ in got] == [e.id for e in events[-2:]]
    assert [prev for _, prev in got] == [events[-3].id, events[-2].id]
    assert got[1][0]["data"]["itens"] == [
        {"sku": "CAMISA-P", "produto_id": camisa.pk, "quantidade": 3, "estoque_anterior": 9, "estoque_atual": 6}]


async def test_same_outcome_as_the_django_view(asgi, client, user, make_loja, make_produto, post_webhook,
                                               lean_counter):
    """One loja through the Django view, a twin through the lean route: the same rows and events."""
    twins = []
    for _ in range(2):
        loja = await sync_to_async(make_loja)(user)
        a = await sync_to_async(_make)(make_produto, loja, "A", 4, minimo=2)
        b = await sync_to_async(_make)(make_produto, loja, "B", 1, minimo=0)
        c = await sync_to_async(_make)(make_produto, loja, "C-INTERNO", 9, minimo=3)
        d = await sync_to_async(_make)(make_produto, loja, "D", 50, minimo=0)
        await sync_to_async(Mapeamento.objects.create)(loja=loja, shopify_sku="C-SHOP", produto=c)
        twins.append((loja, [a, b, c, d]))
    orders = [
        order_payload(699, [(1, "D", 2), (2, "C-SHOP", 1), (3, "X", 1)]),  # lean: D 50->48, C 9->8, unmapped X
        order_payload(700, [(1, "A", 1), (2, "B", 1), (3, "C-SHOP", 2)]),  # A 4->3, B 1->0 (zero), C 8->6
        order_payload(701, [(1, "A", 2), (2, None, 1), (3, "X", 1)]),  # A 3->1: low alert; unmapped
        order_payload(702, [(1, "A", 1), (2, "A", 1)]),  # same SKU twice: A 1->-1, zero alert
        order_payload(703, [(1, "B", 1)], cancelled=True),  # lean: cancelled inside the paid, takes nothing
        order_payload(704, [(1, "C-SHOP", 5)], current_quantities={1: 4}),  # current_quantity wins: C 6->2
        order_payload(705, [(1, "D", 1), (2, None, 1), (3, "D", 2)]),  # lean: D 48->45, a line without SKU
    ]
    via_django, via_lean = twins
    await post(asgi, via_lean[0], "orders/paid", order_payload(1, []))
    await sync_to_async(post_webhook)(via_django[0], "orders/paid", order_payload(1, []))
    for order in orders:
        r1 = await sync_to_async(post_webhook)(via_django[0], "orders/paid", order)
        r2 = await post(asgi, via_lean[0], "orders/paid", order)
        assert (r1.status_code, r1.json()) == (r2.status_code, r2.json())
    assert lean_counter["lean"] == 4  # 1, 699, 703, 705; the alert-crossing ones take the ORM path

    @sync_to_async
    def snapshot(loja, produtos):
        ids = {p.pk: i for i, p in enumerate(produtos)}

        def norm(value):
            if isinstance(value, dict):
                return {k: (ids.get(v, v) if k == "produto_id" else norm(v)) for k, v in value.items()
                        if k not in ("loja_id", "deposito_id", "alerta_id")}
            if isinstance(value, list):
                return [norm(v) for v in value]
            return value

        return {
            "stock": [Produto.objects.get(pk=p.pk).estoque_atual for p in produtos],
            "movements": [(ids[m.produto_id], m.quantidade, m.estoque_anterior, m.estoque_atual, m.origem,
                           m.referencia) for m in Movimentacao.objects.filter(loja=loja).order_by("id")],
            "alerts": [(ids[a.produto_id], a.tipo, a.prioridade, a.status, a.estoque_atual, a.estoque_minimo)
                       for a in Alerta.objects.filter(loja=loja).order_by("id")],
            "events": [(e.type, e.priority, e.stream, norm(e.data))
                       for e in Event.objects.filter(deposito_id=loja.deposito_id)],
            "ledgers": [(o.order_id, o.order_name, o.paid, o.cancelled, norm(o.paid_lines), o.refunds, o.applied)
                        for o in OrderLedger.objects.filter(loja=loja).order_by("order_id")],
            "deliveries": [(d.topic, d.status, d.order_id, d.unmapped_skus, d.attempts, d.last_error)
                           for d in WebhookDelivery.objects.filter(loja=loja).order_by("id")],
        }

    expected = await snapshot(*via_django)
    assert await snapshot(*via_lean) == expected
    assert expected["stock"] == [-1, 0, 2, 45]


async def test_repeats_and_known_orders_take_the_ledger_path(asgi, loja, make_produto):
    p = await sync_to_async(_make)(make_produto, loja, "SKU1", 10)
    payload = order_payload(800, [(1, "SKU1", 2)])
    assert (await post(asgi, loja, "orders/paid", payload, webhook_id="w1", event_id="e1")).json() == {
        "status": "processed"}
    assert (await post(asgi, loja, "orders/paid", payload, webhook_id="w1")).json() == {"status": "duplicate"}
    assert (await post(asgi, loja, "orders/paid", payload, webhook_id="w2", event_id="e1")).json() == {
        "status": "duplicate"}
    assert (await post(asgi, loja, "orders/paid", payload)).json() == {"status": "processed"}  # replay, new ids
    assert await stock(p) == 8
    # a cancel that arrives before its paid: the later paid takes nothing
    await post(asgi, loja, "orders/cancelled", order_payload(801, [(1, "SKU1", 4)], cancelled=True))
    assert (await post(asgi, loja, "orders/paid", order_payload(801, [(1, "SKU1", 4)]))).status_code == 200
    assert await stock(p) == 8
    # a refund before its paid puts back only what the paid takes
    await post(asgi, loja, "refunds/create", refund_payload(90, 802, [(1, 1, "return")]))
    await post(asgi, loja, "orders/paid", order_payload(802, [(1, "SKU1", 3)]))
    assert await stock(p) == 6
    assert len(await rows(Movimentacao, produto=p, origem="shopify_pedido_pago")) == 2


@pytest.mark.parametrize("case", ["missing", "domain", "unknown", "hmac", "size", "not-json", "topic"])
async def test_every_rejection_answers_as_the_contract_says(asgi, loja, make_produto, settings, case):
    await sync_to_async(_make)(make_produto, loja, "SKU1", 10)
    await post(asgi, loja, "orders/paid", order_payload(1, []))  # the loja is in the cache
    payload = order_payload(900, [(1, "SKU1", 1)])
    if case == "missing":
        r = await post(asgi, loja, "orders/paid", payload, headers={"X-Shopify-Webhook-Id": None})
        assert r.status_code == 400
    elif case == "domain":
        r = await post(asgi, loja, "orders/paid", payload, headers={"X-Shopify-Shop-Domain": "evil.example.com"})
        assert r.status_code == 403
    elif case == "unknown":
        r = await post(asgi, loja, "orders/paid", payload, headers={"X-Shopify-Shop-Domain": "nao.myshopify.com"})
        assert r.status_code == 404
    elif case == "hmac":
        r = await post(asgi, loja, "orders/paid", payload, headers={"X-Shopify-Hmac-Sha256": "AAAA"})
        assert r.status_code == 401
    elif case == "size":
        settings.WEBHOOK_MAX_BODY_BYTES = 100
        r = await post(asgi, loja, "orders/paid", payload)
        assert r.status_code == 413
    elif case == "not-json":
        r = await post(asgi, loja, "orders/paid", raw=b"[1, 2]", webhook_id="raw-1")
        assert r.status_code == 400
        (kept,) = await rows(WebhookDelivery, webhook_id="raw-1")
        assert bytes(kept.body) == b"[1, 2]" and kept.status == "invalid"
    elif case == "topic":
        r = await post(asgi, loja, "products/update", {"id": 1})
        assert (r.status_code, r.json()) == (200, {"status": "ignored"})
    assert "erro" in r.json() or case == "topic"
    assert len(await rows(Movimentacao, origem="shopify_pedido_pago")) == 0


async def test_failed_requests_from_one_ip_hit_the_limit_but_signed_ones_pass(asgi, loja, make_produto,
                                                                              settings):
    await sync_to_async(_make)(make_produto, loja, "SKU1", 100)
    payload = order_payload(950, [(1, "SKU1", 1)])
    settings.WEBHOOK_FAILED_REQUESTS_PER_MINUTE = 3
    codes = [(await post(asgi, loja, "orders/paid", payload, headers={"X-Shopify-Hmac-Sha256": "x"})).status_code
             for _ in range(5)]
    ok = await post(asgi, loja, "orders/paid", payload)
    assert codes == [401, 401, 401, 429, 429]
    assert ok.status_code == 200


@pytest.mark.postgres
async def test_database_unavailable_is_503(asgi, loja, make_produto, monkeypatch):
    from psycopg_pool import PoolTimeout

    await sync_to_async(_make)(make_produto, loja, "SKU1", 10)
    await post(asgi, loja, "orders/paid", order_payload(1, []))

    async def no_database():
        raise PoolTimeout("couldn't get a connection")

    monkeypatch.setattr(lean_pool, "pool", no_database)
    r = await post(asgi, loja, "orders/paid", order_payload(960, [(1, "SKU1", 1)]))
    assert r.status_code == 503 and "erro" in r.json()


@pytest.mark.postgres
async def test_concurrent_lean_orders_on_one_sku_are_exact(asgi, loja, make_produto):
    p = await sync_to_async(_make)(make_produto, loja, "HOT", 200, minimo=0)
    await post(asgi, loja, "orders/paid", order_payload(1, []))
    results = await asyncio.gather(*(post(asgi, loja, "orders/paid", order_payload(10_000 + i, [(1, "HOT", 1)]))
                                     for i in range(60)))
    assert [r.status_code for r in results] == [200] * 60
    assert await stock(p) == 140
    moves = await rows(Movimentacao, produto=p, origem="shopify_pedido_pago")
    assert sorted(m.estoque_anterior for m in moves) == list(range(141, 201))
    assert all(m.estoque_atual == m.estoque_anterior - 1 for m in moves)
    events = await rows(Event, deposito_id=loja.deposito_id)
    assert len(events) == 122  # the initial stock's event, the warm-up's sale, (stock + sale) per order


def test_the_route_is_on_by_default_and_can_be_turned_off(settings):
    assert lean.enabled()
    settings.WEBHOOK_FAST_PATH = False
    assert not lean.enabled()


async def test_a_verified_paid_order_with_an_unreadable_line_applies_the_others(asgi, loja, make_produto):
    """A line the arithmetic cannot read is set aside with its reason; the order's other lines apply."""
    p = await sync_to_async(_make)(make_produto, loja, "SKU1", 10)
    q = await sync_to_async(_make)(make_produto, loja, "SKU2", 10)
    payload = order_payload(900, [(1, "SKU1", 1), (2, "SKU2", 3)])
    payload["line_items"][0]["quantity"] = "not-a-number"
    r = await post(asgi, loja, "orders/paid", payload)
    assert (r.status_code, r.json()) == (200, {"status": "processed"})
    (delivery,) = await rows(WebhookDelivery, order_id=900, topic="orders/paid")
    assert delivery.status == "processed"
    assert delivery.invalid_lines == [{"posicao": 1, "motivo": "quantidade não é um inteiro entre 0 e 1000000"}]
    assert (await stock(p), await stock(q)) == (10, 7)


@pytest.fixture
def batch_sizes(monkeypatch, settings):
    """The size of every batch the lean route ran (one transaction each), with one batch at a time."""
    settings.WEBHOOK_BATCH_CONCURRENCY = 1
    sizes = []
    real_process = lean_batch._process

    async def spying_process(items, **kw):
        sizes.append(len(items))
        return await real_process(items, **kw)

    monkeypatch.setattr(lean_batch, "_process", spying_process)
    return sizes


@pytest.mark.postgres
async def test_concurrent_deliveries_share_transactions_and_every_ledger_stays_exact(
        asgi, user, make_loja, make_produto, batch_sizes):
    lojas = [await sync_to_async(make_loja)(user) for _ in range(2)]
    produtos = {(lj.pk, sku): await sync_to_async(_make)(make_produto, lj, sku, 1000, minimo=0)
                for lj in lojas for sku in ("A", "B", "C")}
    for lj in lojas:
        await post(asgi, lj, "orders/paid", order_payload(1, []))
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(f"deposito.{lojas[0].deposito_id}", channel)
    orders = [(lojas[i % 2], order_payload(20_000 + i, [(1, "A", 1 + i % 3), (2, "BC"[i // 2 % 2], 2), (3, "A", 1)]))
              for i in range(40)]
    results = await asyncio.gather(*(post(asgi, lj, "orders/paid", payload) for lj, payload in orders))
    assert [r.json() for r in results] == [{"status": "processed"}] * 40
    assert max(batch_sizes) > 1  # deliveries in flight together shared a transaction

    for (loja_id, sku), produto in produtos.items():
        taken = sum(q for lj, payload in orders if lj.pk == loja_id
                    for q in [li["quantity"] for li in payload["line_items"] if li["sku"] == sku])
        assert await stock(produto) == 1000 - taken
        moves = await rows(Movimentacao, produto=produto, origem="shopify_pedido_pago")
        assert len(moves) == sum(1 for lj, p in orders if lj.pk == loja_id and sku in {li["sku"] for li in
                                                                                      p["line_items"]})
        chain = [(m.estoque_anterior, m.estoque_atual) for m in moves] or [(1000, 1000)]
        assert chain[0][0] == 1000 and chain[-1][1] == 1000 - taken
        assert all(a[1] == b[0] for a, b in zip(chain, chain[1:]))  # each starts where the previous ended

    # The first loja's sockets get its 20 sales (a stock event per product, then the sale), each
    # carrying the id of the loja's event before it: no gap, no event of the other loja.
    events = [e for e in await rows(Event, loja=lojas[0]) if e.type != "estoque_atualizado" or e.data["origem"]
              == "shopify_pedido_pago"]
    got = await received_events(layer, channel, 20 * 3)
    assert [e["id"] for e, _ in got] == [e.id for e in events[-60:]]
    assert [prev for _, prev in got] == [e.id for e in events[-61:-1]]
    assert sum(1 for e, _ in got if e["type"] == "venda_shopify_processada") == 20


@pytest.mark.postgres
async def test_two_lojas_of_one_deposito_in_one_batch_both_take_from_the_shared_produto(
        asgi, user, make_loja, make_produto, batch_sizes):
    """Found by bench/oversold.py: a batch holding sales of one produto from two lojas of its
    depósito applied only one loja's delta (UPDATE ... FROM with two rows for one produto)."""
    from chegouhub.stocksync.depositos import move_loja

    a, b = [await sync_to_async(make_loja)(user) for _ in range(2)]
    await sync_to_async(move_loja)(loja=b, deposito=a.deposito)
    produto = await sync_to_async(_make)(make_produto, a, "A", 1000, minimo=0)
    for lj in (a, b):
        await post(asgi, lj, "orders/paid", order_payload(1, []))
    batch_sizes.clear()
    orders = [((a, b)[i % 2], order_payload(30_000 + i, [(1, "A", 1)])) for i in range(40)]
    results = await asyncio.gather(*(post(asgi, lj, "orders/paid", payload) for lj, payload in orders))
    assert [r.json() for r in results] == [{"status": "processed"}] * 40
    assert max(batch_sizes) > 1
    assert await stock(produto) == 960
    moves = await rows(Movimentacao, produto=produto, origem="shopify_pedido_pago")
    assert {m.loja_id for m in moves} == {a.pk, b.pk} and len(moves) == 40
    chain = [(m.estoque_anterior, m.estoque_atual) for m in moves]
    assert chain[0][0] == 1000 and chain[-1][1] == 960
    assert all(x[1] == y[0] for x, y in zip(chain, chain[1:]))


@pytest.mark.postgres
async def test_a_batch_holding_a_repeat_a_replay_and_an_alert_answers_each_as_the_contract_says(
        asgi, loja, make_produto, batch_sizes):
    comum = await sync_to_async(_make)(make_produto, loja, "COMUM", 100, minimo=0)
    raro = await sync_to_async(_make)(make_produto, loja, "RARO", 3, minimo=2)
    await post(asgi, loja, "orders/paid", order_payload(1, []))
    batch_sizes.clear()
    same = order_payload(300, [(1, "COMUM", 5)])
    requests = [
        dict(payload=same, webhook_id="w-300"),
        dict(payload=same, webhook_id="w-300"),  # Shopify's retry of that delivery: a duplicate
        dict(payload=same, webhook_id="w-300-replay"),  # the same order under a new id: nothing more taken
        dict(payload=order_payload(301, [(1, "RARO", 2)]), webhook_id="w-301"),  # 3 -> 1: low-stock alert
        *[dict(payload=order_payload(310 + i, [(1, "COMUM", 1)]), webhook_id=f"w-{310 + i}") for i in range(8)],
    ]
    results = await asyncio.gather(*(post(asgi, loja, "orders/paid", r["payload"], webhook_id=r["webhook_id"])
                                     for r in requests))
    statuses = [r.json()["status"] for r in results]
    # batched; rolled back for the alert; the batch tried again without the alerting delivery
    assert any(later == first - 1 > 0 for first, later in zip(batch_sizes, batch_sizes[1:])), batch_sizes
    assert sorted(statuses) == sorted(["processed"] * 11 + ["duplicate"])
    assert all(r.status_code == 200 for r in results)
    assert await stock(comum) == 100 - 5 - 8
    assert await stock(raro) == 1
    (alerta,) = await rows(Alerta, produto=raro)
    assert (alerta.tipo, alerta.status) == ("estoque_baixo", "ativo")
    assert len(await rows(Movimentacao, produto=comum, origem="shopify_pedido_pago")) == 9
    assert len(await rows(WebhookDelivery, webhook_id__startswith="w-3")) == 11


@pytest.mark.postgres
def test_raw_bodies_are_stored_with_lz4_and_read_back_whole(loja):
    """The migration that trades pglz (the database's largest cost in a flash sale) for lz4."""
    body = encode(order_payload(42, [(i, f"SKU-{i}", 1) for i in range(1, 30)]))
    delivery = WebhookDelivery.objects.create(loja=loja, shop_domain=loja.shop_domain, topic="orders/paid",
                                              webhook_id="lz4-1", body=body)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        lz4 = cursor.fetchone()[0]  # a PostgreSQL built without lz4 keeps pglz (the migration skips)
        cursor.execute("SELECT attcompression FROM pg_attribute WHERE attrelid = 'shopify_webhookdelivery'::regclass"
                       " AND attname = 'body'")
        assert cursor.fetchone()[0] == ("l" if lz4 else "")
        cursor.execute("SELECT pg_column_compression(body) FROM shopify_webhookdelivery WHERE id = %s", [delivery.pk])
        assert cursor.fetchone()[0] == ("lz4" if lz4 else "pglz")
    assert bytes(WebhookDelivery.objects.get(pk=delivery.pk).body) == body


@pytest.mark.postgres
async def test_a_batch_holding_an_earlier_delivery_again_is_taken_one_by_one(asgi, loja, make_produto, batch_sizes):
    p = await sync_to_async(_make)(make_produto, loja, "SKU1", 100, minimo=0)
    first = order_payload(400, [(1, "SKU1", 4)])
    assert (await post(asgi, loja, "orders/paid", first, webhook_id="w-400")).json() == {"status": "processed"}
    batch_sizes.clear()
    requests = [(first, "w-400")] + [(order_payload(401 + i, [(1, "SKU1", 1)]), f"w-{401 + i}") for i in range(6)]
    results = await asyncio.gather(*(post(asgi, loja, "orders/paid", payload, webhook_id=wid)
                                     for payload, wid in requests))
    assert sorted(r.json()["status"] for r in results) == ["duplicate"] + ["processed"] * 6
    assert await stock(p) == 100 - 4 - 6
    assert max(batch_sizes) > 1 and batch_sizes.count(1) >= 6, batch_sizes  # rolled back, then one by one
    assert len(await rows(WebhookDelivery, webhook_id="w-400")) == 1
    assert len(await rows(Movimentacao, produto=p, origem="shopify_pedido_pago")) == 7


@pytest.mark.postgres
async def test_an_unreadable_order_beside_a_batch_is_kept_and_the_batch_still_applies(asgi, loja, make_produto,
                                                                                   batch_sizes):
    """A signed order whose line_items is not a list never enters a batch: it cannot fail the others."""
    p = await sync_to_async(_make)(make_produto, loja, "SKU1", 100, minimo=0)
    await post(asgi, loja, "orders/paid", order_payload(1, []))
    odd = order_payload(500, [(1, "SKU1", 1)])
    odd["line_items"] = 5
    requests = [(odd, "w-odd")] + [(order_payload(501 + i, [(1, "SKU1", 2)]), f"w-{501 + i}") for i in range(8)]
    results = await asyncio.gather(*(post(asgi, loja, "orders/paid", payload, webhook_id=wid)
                                     for payload, wid in requests))
    assert [r.status_code for r in results] == [200] * 9
    assert [r.json()["status"] for r in results] == ["accepted"] + ["processed"] * 8
    assert await stock(p) == 100 - 16
    (kept,) = await rows(WebhookDelivery, webhook_id="w-odd")
    assert bytes(kept.body) == encode(odd) and kept.status == "failed"  # kept for the retry worker


@pytest.mark.postgres
async def test_a_mapeamento_changed_after_its_sku_was_seen_takes_effect_at_once(asgi, loja, make_produto):
    """The lean route keeps the SKU resolution it read; the apply statement checks it every time."""
    interno = await sync_to_async(_make)(make_produto, loja, "C-INTERNO", 50, minimo=0)
    await post(asgi, loja, "orders/paid", order_payload(600, [(1, "C-SHOP", 1)]))  # unmapped: nothing taken
    assert await stock(interno) == 50
    mapeamento = await sync_to_async(Mapeamento.objects.create)(loja=loja, shopify_sku="C-SHOP", produto=interno)
    r = await post(asgi, loja, "orders/paid", order_payload(601, [(1, "C-SHOP", 2)]), webhook_id="w-601")
    assert r.json() == {"status": "processed"}
    assert await stock(interno) == 48
    (delivery,) = await rows(WebhookDelivery, webhook_id="w-601")
    assert delivery.unmapped_skus == []
    await sync_to_async(mapeamento.delete)()
    await post(asgi, loja, "orders/paid", order_payload(602, [(1, "C-SHOP", 5)]), webhook_id="w-602")
    assert await stock(interno) == 48
    (delivery,) = await rows(WebhookDelivery, webhook_id="w-602")
    assert delivery.unmapped_skus == ["C-SHOP"]


@pytest.mark.postgres
async def test_a_batch_stuck_behind_a_lock_gives_way_and_other_lojas_go_on(asgi, user, make_loja, make_produto,
                                                                          settings):
    """lock_timeout: a long transaction on one product must not stall the route for every loja."""
    import psycopg

    settings.WEBHOOK_LOCK_TIMEOUT_MS = 200
    settings.WEBHOOK_BATCH_CONCURRENCY = 1
    loja_a, loja_b = [await sync_to_async(make_loja)(user) for _ in range(2)]
    preso = await sync_to_async(_make)(make_produto, loja_a, "PRESO", 10, minimo=0)
    livre = await sync_to_async(_make)(make_produto, loja_b, "LIVRE", 10, minimo=0)
    for lj in (loja_a, loja_b):
        await post(asgi, lj, "orders/paid", order_payload(1, []))

    holder = await psycopg.AsyncConnection.connect(**lean_pool._conn_kwargs())
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM inventory_produto WHERE id = %s FOR UPDATE", [preso.pk])
            stuck = asyncio.ensure_future(post(asgi, loja_a, "orders/paid", order_payload(700, [(1, "PRESO", 1)])))
            await asyncio.sleep(0.05)
            other = await asyncio.wait_for(
                post(asgi, loja_b, "orders/paid", order_payload(701, [(1, "LIVRE", 2)])), 3)
            assert other.json() == {"status": "processed"}
            assert not stuck.done()  # still waiting for the lock, on the Django path, off the event loop
        # the lock released: the stuck order is applied once
        assert (await asyncio.wait_for(stuck, 10)).json() == {"status": "processed"}
    finally:
        await holder.close()
    assert (await stock(preso), await stock(livre)) == (9, 8)


async def test_ids_beyond_64_bits_keep_every_digit(asgi, loja, make_produto, lean_counter):
    """The lean route reads bodies with orjson, which reads such an integer as a float; the order
    goes to the Django path, and the ledger keys its line by the id exactly as sent."""
    p = await sync_to_async(_make)(make_produto, loja, "BIG", 10)
    huge = 2**70 + 1
    body = encode(order_payload(901, [(1, "BIG", 2)])).replace(b'"line_items":[{"id":1,', f'"line_items":[{{"id":{huge},'.encode(), 1)
    assert str(huge).encode() in body
    r = await post(asgi, loja, "orders/paid", raw=body)
    assert (r.status_code, r.json()) == (200, {"status": "processed"})
    assert await stock(p) == 8
    (ledger,) = await rows(OrderLedger, loja=loja, order_id=901)
    assert list(ledger.paid_lines) == [str(huge)]
    # a SKU written as such a number: matched by its every digit, as the Django view reads it
    q = await sync_to_async(_make)(make_produto, loja, str(huge), 5)
    body = encode(order_payload(902, [(1, "PLACEHOLDER", 1)])).replace(b'"PLACEHOLDER"', str(huge).encode(), 1)
    r = await post(asgi, loja, "orders/paid", raw=body)
    assert (r.status_code, r.json()) == (200, {"status": "processed"})
    assert await stock(q) == 4
    assert (lean_counter["lean"], lean_counter["django"]) == (0, 2)


@pytest.mark.postgres
async def test_a_batch_is_answered_once_committed_without_waiting_for_its_publishing(asgi, loja, make_produto,
                                                                                      monkeypatch):
    p = await sync_to_async(_make)(make_produto, loja, "SLOW-PUB", 10)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(f"deposito.{loja.deposito_id}", channel)
    release = asyncio.Event()
    real_publish = lean_batch.event_log.apublish

    async def slow_publish(messages):
        await release.wait()
        return await real_publish(messages)

    monkeypatch.setattr(lean_batch.event_log, "apublish", slow_publish)
    r = await asyncio.wait_for(post(asgi, loja, "orders/paid", order_payload(950, [(1, "SLOW-PUB", 4)])), 10)
    assert (r.status_code, r.json()) == (200, {"status": "processed"})
    assert await stock(p) == 6  # committed before the answer
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)  # nothing published yet
    release.set()
    got = await received_events(layer, channel, 2)
    assert [e["type"] for e, _ in got] == ["estoque_atualizado", "venda_shopify_processada"]


@pytest.mark.postgres
async def test_a_remembered_sku_resolution_that_changed_is_not_used(asgi, loja, make_produto, lean_counter,
                                                                    monkeypatch):
    """The route remembers each SKU's product to save a round trip; a mapping added or a product
    created since must still decide where the stock comes from, and on the lean path."""
    from chegouhub.shopify import metrics

    attempts = []
    real_transact = lean_batch._transact

    async def spying(items, on_commit, remembered):
        attempts.append((len(items), remembered, len(lean_batch._resolved)))
        return await real_transact(items, on_commit, remembered)

    monkeypatch.setattr(lean_batch, "_transact", spying)
    stale_before = metrics.WEBHOOK_STALE_RESOLUTIONS._value.get()
    antigo = await sync_to_async(_make)(make_produto, loja, "S1", 50, minimo=0)
    novo = await sync_to_async(_make)(make_produto, loja, "NOVO-S1", 50, minimo=0)
    await post(asgi, loja, "orders/paid", order_payload(1, []))
    assert (await post(asgi, loja, "orders/paid", order_payload(970, [(1, "S1", 2), (2, "FUTURO", 1)]))).json() == \
        {"status": "processed"}
    assert lean_batch._resolved[(loja.id, "S1")] == antigo.pk and lean_batch._resolved[(loja.id, "FUTURO")] is None

    # Meanwhile the merchant maps S1 to another product and creates FUTURO.
    await sync_to_async(Mapeamento.objects.create)(loja=loja, shopify_sku="S1", produto=novo)
    futuro = await sync_to_async(_make)(make_produto, loja, "FUTURO", 50, minimo=0)
    assert (await post(asgi, loja, "orders/paid", order_payload(971, [(1, "S1", 3), (2, "FUTURO", 1)]))).json() == \
        {"status": "processed"}
    assert (await stock(antigo), await stock(novo), await stock(futuro)) == (48, 47, 49)
    assert lean_counter == {"lean": 3, "django": 0}
    assert lean_batch._resolved[(loja.id, "S1")] == novo.pk and lean_batch._resolved[(loja.id, "FUTURO")] == futuro.pk
    # The third order was planned from memory, found it stale, and was planned again from the database.
    assert [remembered for _, remembered, _ in attempts] == [True, True, True, False]
    assert metrics.WEBHOOK_STALE_RESOLUTIONS._value.get() == stale_before + 1
    ledger = (await rows(OrderLedger, loja=loja, order_id=971))[0]
    assert {line["produto_id"] for line in ledger.paid_lines.values()} == {novo.pk, futuro.pk}
