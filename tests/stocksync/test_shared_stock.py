"""One stock, many lojas (CONTRACT 10), end to end: lojas in one depósito, sales in their Shopify
stores (the fake sells like Shopify: it refuses a sale when `available` is 0), the signed webhooks,
the pusher's rounds over real HTTP, and what every store shows afterwards."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chegouhub.catalog import services as catalog
from chegouhub.catalog.models import VarianteShopify
from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.inventory.services import adjust_stock
from chegouhub.realtime.models import Event
from chegouhub.stocksync.models import CursorDeposito, Divergencia, EnvioEstoque, PushPendente
from chegouhub.stocksync.pusher import Pusher
from chegouhub.stores.models import Loja
from tests.devtools.fake_fixtures import register

ROOMY = {"bucket_size": 1000, "restore_rate": 1000}


def stores(fake, lojas, skus: dict[str, int]) -> None:
    """Each loja's shop in the fake, selling `skus` ({sku: available}), and its catalog imported."""
    register(fake, lojas, **ROOMY)
    for loja in lojas:
        fake.add_products(loja.shop_domain, [{"title": f"Produto {sku}", "variants": [
            {"sku": sku, "title": "Único", "available": qty}]} for sku, qty in skus.items()])
        importacao, _ = catalog.queue_import(loja=loja)
        assert catalog.claim_import(importacao.pk)
        importacao.refresh_from_db()
        assert catalog.run_import(importacao).status == "concluida"


def available(fake, loja) -> dict[str, int]:
    return {v["sku"]: v["available"] for v in fake.catalog(loja.shop_domain)["variants"]}


def variant_id(fake, loja, sku: str) -> int:
    return next(v["id"] for v in fake.catalog(loja.shop_domain)["variants"] if v["sku"] == sku)


def sell(fake, post_webhook, loja, sku: str, qty: int = 1) -> bool:
    """A buyer in the loja's store; if the store sells, Shopify's orders/paid reaches ChegouHub."""
    r = fake.sell(loja.shop_domain, [(variant_id(fake, loja, sku), qty)])
    if r.status_code == 409:
        return False
    assert r.status_code == 201, r.text
    answer = post_webhook(loja, "orders/paid", r.json())
    assert answer.status_code == 200 and answer.json()["status"] == "processed", answer.content
    return True


def share(lojas: list[Loja], *, reserva: int = 0) -> None:
    """The lojas in the first one's depósito, syncing (as the dashboard does it: the API)."""
    from chegouhub.stocksync.depositos import move_loja

    for loja in lojas[1:]:
        move_loja(loja=loja, deposito=lojas[0].deposito)
    for loja in lojas:
        loja.refresh_from_db()
        loja.sincronizar_estoque, loja.estoque_reserva = True, reserva
        loja.save()


@pytest.fixture
def two(fake_shopify, make_loja, user, django_capture_on_commit_callbacks):
    """Lojas A (CAM 5, BON 3) and B (CAM 5) on one depósito, both syncing: B joined A's depósito
    before its import, which linked B's CAM to the depósito's CAM."""
    a, b = make_loja(user, token="shpat_store_a_0001"), make_loja(user, token="shpat_store_b_0001")
    with django_capture_on_commit_callbacks(execute=True):
        stores(fake_shopify, [a], {"CAM": 5, "BON": 3})
        share([a, b])
        stores(fake_shopify, [b], {"CAM": 5})
    a.refresh_from_db(), b.refresh_from_db()
    assert Produto.objects.filter(deposito=a.deposito).count() == 2
    return a, b


def test_a_sale_in_one_store_lowers_the_other_and_costs_the_seller_nothing(two, fake_shopify, post_webhook,
                                                                          django_capture_on_commit_callbacks):
    a, b = two
    Pusher(min_interval=0).drain_sync()  # the imported quantities confirmed once
    calls = {s.shop_domain: fake_shopify.counters(s.shop_domain)["set_quantities_calls"] for s in (a, b)}
    assert sell(fake_shopify, post_webhook, a, "CAM", 2)
    assert Produto.objects.get(deposito=a.deposito, sku="CAM").estoque_atual == 3
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, a)["CAM"] == 3 and available(fake_shopify, b)["CAM"] == 3
    after = {s.shop_domain: fake_shopify.counters(s.shop_domain)["set_quantities_calls"] for s in (a, b)}
    assert after[a.shop_domain] == calls[a.shop_domain]  # Shopify A already showed 3: no call
    assert after[b.shop_domain] == calls[b.shop_domain] + 1
    envio = EnvioEstoque.objects.get(loja=b, quantidade=3)
    assert envio.anterior == 5 and envio.atraso_ms >= 0
    synced = Event.objects.get(type="estoque_sincronizado_shopify", loja=b, data__quantidade=3)
    assert synced.deposito_id == a.deposito_id and synced.data["produto_id"] == envio.produto_id


def test_two_stores_sell_the_last_unit_at_once_and_afterwards_neither_shows_stock(two, fake_shopify, post_webhook):
    a, b = two
    produto = Produto.objects.get(deposito=a.deposito, sku="CAM")
    adjust_stock(produto=produto, quantidade=-4, motivo="quebra")  # one left
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, a)["CAM"] == 1 and available(fake_shopify, b)["CAM"] == 1
    # Both stores sell it before either webhook arrives: the one unit is sold twice (no system can
    # stop a sale that happens on Shopify's side before it hears of the other).
    orders = [fake_shopify.sell(s.shop_domain, [(variant_id(fake_shopify, s, "CAM"), 1)]) for s in (a, b)]
    assert [o.status_code for o in orders] == [201, 201]
    for store, order in zip((a, b), orders):
        assert post_webhook(store, "orders/paid", order.json()).status_code == 200
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, a)["CAM"] == 0 and available(fake_shopify, b)["CAM"] == 0
    produto.refresh_from_db()
    assert produto.estoque_atual == -1  # never clamped: the oversold unit shows
    assert not sell(fake_shopify, post_webhook, a, "CAM") and not sell(fake_shopify, post_webhook, b, "CAM")


def test_a_store_that_shows_stock_that_is_gone_is_told_before_its_interval(two, fake_shopify, post_webhook):
    """Coalescing waits `min_interval` between a loja's calls, but not when the other store could
    sell a unit the depósito no longer has: taking a variant to 0 goes after `urgent_interval`."""
    a, b = two
    produto = Produto.objects.get(deposito=a.deposito, sku="CAM")
    pusher = Pusher(min_interval=3600, urgent_interval=0)
    pusher.drain_sync()  # the imported quantities: both stores called once, their interval starts
    calls = fake_shopify.counters(b.shop_domain)["set_quantities_calls"]
    for _ in range(3):
        assert sell(fake_shopify, post_webhook, a, "CAM")
    pusher.drain_sync()
    # 2 left: B still shows 5 and waits for its interval (coalescing)
    assert available(fake_shopify, b)["CAM"] == 5
    assert fake_shopify.counters(b.shop_domain)["set_quantities_calls"] == calls
    assert sell(fake_shopify, post_webhook, a, "CAM", 2)
    produto.refresh_from_db()
    assert produto.estoque_atual == 0
    pusher.urgent_interval = 3600  # an urgent loja too is called at most once per urgent_interval
    pusher.drain_sync()
    assert available(fake_shopify, b)["CAM"] == 5
    pusher.urgent_interval = 0
    pusher.drain_sync()
    # the last units sold in A: B is told at once, in one call
    assert available(fake_shopify, b)["CAM"] == 0
    assert fake_shopify.counters(b.shop_domain)["set_quantities_calls"] == calls + 1
    assert not sell(fake_shopify, post_webhook, b, "CAM")


def test_in_a_rush_the_calls_follow_the_sales_and_after_it_sold_out_goes_first(two, fake_shopify, post_webhook):
    """A depósito selling fast has each loja paced to its share of the call budget, a push to 0
    included (the next paced call carries it); once the rush is over it goes at once again."""
    from chegouhub.stocksync import services

    a, b = two
    # A budget so small that one sale a second is a rush for these two lojas: a pace of 2,000 s.
    pusher = Pusher(min_interval=0.001, urgent_interval=0, calls_per_change=0.001, rush_max_interval=3600)
    pusher.drain_sync()  # the imported quantities confirmed: both lojas called
    calls = fake_shopify.counters(b.shop_domain)["set_quantities_calls"]
    assert sell(fake_shopify, post_webhook, a, "CAM", 5)  # the last 5 units, sold in A
    pusher.drain_sync()
    cursor = CursorDeposito.objects.get(deposito_id=a.deposito_id)
    assert services.change_rate(cursor, timezone.now()) > 0.5
    assert 1000 < services.rush_intervals({b.pk}, calls_per_change=0.001, longest=3600)[b.pk] < 3600
    # B shows 5 of 0 and its interval is far shorter than the pace: still it waits
    assert available(fake_shopify, b)["CAM"] == 5
    assert fake_shopify.counters(b.shop_domain)["set_quantities_calls"] == calls
    # A minute without a change: the rate has decayed, no rush, and the sold-out push goes at once.
    CursorDeposito.objects.update(updated_at=timezone.now() - timedelta(seconds=60))
    assert services.rush_intervals({b.pk}, calls_per_change=0.001, longest=3600) == {}
    pusher.drain_sync()
    assert available(fake_shopify, b)["CAM"] == 0
    assert fake_shopify.counters(b.shop_domain)["set_quantities_calls"] == calls + 1
    assert not sell(fake_shopify, post_webhook, b, "CAM")


def test_a_push_to_zero_is_claimed_before_a_backlog(two, fake_shopify, post_webhook):
    from chegouhub.stocksync import services

    a, _ = two
    Pusher(min_interval=0).drain_sync()
    camisa = Produto.objects.get(deposito=a.deposito, sku="CAM")
    bone = Produto.objects.get(deposito=a.deposito, sku="BON")
    adjust_stock(produto=camisa, quantidade=-1, motivo="quebra")  # queued first, not urgent
    adjust_stock(produto=bone, quantidade=-3, motivo="quebra")  # queued second: A's Shopify shows 3 of 0
    services.ingest_all()
    assert services.lojas_selling_what_is_gone({a.pk}) == {a.pk}
    [plan] = [p for p in services.claim_pushes(per_loja=1) if p.loja_id == a.pk]
    assert [(i.produto_id, i.quantidade) for i in plan.items] == [(bone.pk, 0)]
    # a link whose Shopify quantity was never read may show stock too
    PushPendente.objects.update(em_envio_ate=None)
    VarianteShopify.objects.filter(loja=a).update(shopify_disponivel=None)
    assert services.lojas_selling_what_is_gone({a.pk}) == {a.pk}
    VarianteShopify.objects.filter(loja=a).update(shopify_disponivel=0)
    assert services.lojas_selling_what_is_gone({a.pk}) == set()


def test_a_burst_of_sales_costs_a_handful_of_calls(two, fake_shopify, post_webhook):
    a, b = two
    produto = Produto.objects.get(deposito=a.deposito, sku="CAM")
    adjust_stock(produto=produto, quantidade=195, motivo="recebimento")
    pusher = Pusher(min_interval=0)
    pusher.drain_sync()
    before = fake_shopify.counters(b.shop_domain)["set_quantities_calls"]
    for n in range(100):
        assert sell(fake_shopify, post_webhook, a, "CAM")
        if n % 25 == 24:  # the pusher's rounds while the sales go on
            pusher.round_sync()
    pusher.drain_sync()
    assert available(fake_shopify, b)["CAM"] == 100 == available(fake_shopify, a)["CAM"]
    assert fake_shopify.counters(b.shop_domain)["set_quantities_calls"] - before <= 5
    assert fake_shopify.counters(a.shop_domain)["stale"] == 0  # A's own sales never made its pushes stale


def test_a_pusher_killed_after_shopify_applied_is_replayed_not_applied_twice(two, fake_shopify, post_webhook):
    a, b = two
    Pusher(min_interval=0).drain_sync()
    assert sell(fake_shopify, post_webhook, a, "CAM")  # depósito 4
    dying = Pusher(min_interval=0)
    plans = dying._claim()
    asyncio.run(dying.push(next(p for p in plans if p.loja_id == b.pk)))  # Shopify B applied 4 ...
    assert available(fake_shopify, b)["CAM"] == 4
    # ... and the process died before recording it: its lease runs out, another pusher takes over.
    PushPendente.objects.update(em_envio_ate=timezone.now() - timedelta(seconds=1))
    Pusher(min_interval=0).drain_sync()
    assert fake_shopify.counters(b.shop_domain)["idempotent_replays"] >= 1
    assert available(fake_shopify, b)["CAM"] == 4 and not PushPendente.objects.exists()
    assert sell(fake_shopify, post_webhook, b, "CAM")  # B sells on: 3 everywhere
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, a)["CAM"] == 3 == available(fake_shopify, b)["CAM"]


def test_shopify_down_backs_off_shows_the_error_and_catches_up(two, fake_shopify, post_webhook, api, monkeypatch):
    a, b = two
    monkeypatch.setattr("chegouhub.shopify.admin_api.BACKOFF_BASE", 0.01)
    Pusher(min_interval=0).drain_sync()
    fake_shopify.fail(b.shop_domain, "5xx", count=4)  # every attempt of one call
    assert sell(fake_shopify, post_webhook, a, "CAM")
    Pusher(min_interval=0).drain_sync()
    status = {row["loja_id"]: row for row in api.get("/api/estoque/sincronizacao/").json()["lojas"]}
    assert status[b.pk]["pendentes"] == 1 and status[b.pk]["erros"] == 1 and status[b.pk]["ultimo_erro"]
    assert "shpat" not in status[b.pk]["ultimo_erro"]
    assert available(fake_shopify, b)["CAM"] == 5
    PushPendente.objects.update(proxima_em=timezone.now())  # the back-off ran out; Shopify is back
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, b)["CAM"] == 4
    status = {row["loja_id"]: row for row in api.get("/api/estoque/sincronizacao/").json()["lojas"]}
    assert status[b.pk]["pendentes"] == 0 and status[b.pk]["ultimo_envio"] and status[b.pk]["atraso_p99_ms"] >= 0


def test_reconcile_stock_records_a_hand_edit_and_puts_it_right(two, fake_shopify):
    a, b = two
    Pusher(min_interval=0).drain_sync()
    item = next(v["inventory_item_id"] for v in fake_shopify.catalog(b.shop_domain)["variants"] if v["sku"] == "CAM")
    fake_shopify.set_level(b.shop_domain, item, 9)  # the merchant typed 9 in the Shopify admin
    moves = Movimentacao.objects.count()
    out = io.StringIO()
    call_command("reconcile_stock", "--loja-id", str(b.pk), stdout=out)
    assert "1 divergências" in out.getvalue()
    d = Divergencia.objects.get(loja=b)
    assert (d.sku, d.shopify_tinha, d.esperado) == ("CAM", 9, 5)
    assert Movimentacao.objects.count() == moves  # movement-free: the depósito's stock is the truth
    call_command("push_stock", "--once", stdout=io.StringIO())
    assert available(fake_shopify, b)["CAM"] == 5


def test_a_loja_socket_and_its_filters_follow_the_deposito(two, fake_shopify, post_webhook, api):
    a, b = two
    assert sell(fake_shopify, post_webhook, a, "CAM")
    # B's views of the stock are the depósito's: a sale in A shows under loja_id=B.
    produtos = api.get(f"/api/estoque/produtos/?loja_id={b.pk}").json()["results"]
    assert {p["sku"]: p["estoque_atual"] for p in produtos} == {"CAM": 4, "BON": 3}
    assert all(p["deposito_id"] == a.deposito_id for p in produtos)
    moves = api.get(f"/api/estoque/movimentacoes/?loja_id={b.pk}&origem=shopify_pedido_pago").json()["results"]
    assert [(m["loja_id"], m["quantidade"]) for m in moves] == [(a.pk, -1)]
    events = api.get(f"/api/sync-realtime/events/?since=0&loja_id={b.pk}").json()["events"]
    sale = [e for e in events if e["type"] == "venda_shopify_processada"]
    assert len(sale) == 1 and sale[0]["data"]["loja_id"] == a.pk and sale[0]["data"]["deposito_id"] == a.deposito_id


def test_pushes_need_no_redis(two, fake_shopify, post_webhook, settings):
    """The queue is the database: with the channel layer unreachable (Redis down or restarting) the
    push still happens and its event is in the log for the sockets to back-fill."""
    a, b = two
    Pusher(min_interval=0).drain_sync()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}}
    assert sell(fake_shopify, post_webhook, a, "CAM")
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, b)["CAM"] == 4
    assert Event.objects.filter(type="estoque_sincronizado_shopify", loja=b, data__quantidade=4).exists()


def test_a_sale_whose_webhook_is_on_its_way_holds_up_nothing_and_is_not_counted_twice(two, fake_shopify,
                                                                                   post_webhook):
    a, b = two
    Pusher(min_interval=0).drain_sync()
    for sku in ("CAM", "BON"):
        adjust_stock(produto=Produto.objects.get(deposito=a.deposito, sku=sku), quantidade=10, motivo="recebimento")
    # A's store sells a CAM; its webhook has not reached ChegouHub yet when the pusher goes.
    order = fake_shopify.sell(a.shop_domain, [(variant_id(fake_shopify, a, "CAM"), 1)])
    assert order.status_code == 201
    reads = fake_shopify.counters(a.shop_domain)["graphql_calls"]
    Pusher(min_interval=0).round_sync()
    shown = available(fake_shopify, a)
    assert shown["BON"] == 13  # the rest of A's call went through without the stale CAM
    assert shown["CAM"] == 4  # not overwritten: the sale Shopify made stays
    assert available(fake_shopify, b)["CAM"] == 15
    assert fake_shopify.counters(a.shop_domain)["stale"] == 1
    assert fake_shopify.counters(a.shop_domain)["graphql_calls"] - reads == 2  # the stale call and the retry: no read
    # The webhook arrives: A's CAM is expected at 4, the depósito has 14: pushed, no double count.
    assert post_webhook(a, "orders/paid", order.json()).status_code == 200
    PushPendente.objects.update(proxima_em=timezone.now())
    Pusher(min_interval=0).drain_sync()
    assert available(fake_shopify, a)["CAM"] == 14 == available(fake_shopify, b)["CAM"]
    assert Produto.objects.get(deposito=a.deposito, sku="CAM").estoque_atual == 14
