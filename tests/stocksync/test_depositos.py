"""Depósitos through the API (CONTRACT 10): lojas put in one stock and taken out, refusals that
change nothing, SKU matching in a shared depósito, and a loja's socket following its depósito."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator

from chegouhub.devtools.payloads import order_payload
from chegouhub.inventory.models import Mapeamento, Produto
from chegouhub.realtime.routing import websocket_application
from chegouhub.stocksync.depositos import create_deposito, move_loja
from chegouhub.stores.models import Deposito
from tests.realtime.conftest import session_key_for

pytestmark = pytest.mark.django_db


def produtos(api, loja) -> dict[str, int]:
    body = api.get(f"/api/estoque/produtos/?loja_id={loja.pk}&page_size=100").json()
    return {p["sku"]: p["estoque_atual"] for p in body["results"]}


def test_a_new_loja_gets_its_own_deposito_or_joins_the_one_given(api, loja):
    own = api.post("/api/lojas/", {"nome": "Nova", "shop_domain": "nova.myshopify.com"}, format="json")
    assert own.status_code == 201, own.content
    assert own.json()["deposito_id"] not in (None, loja.deposito_id)
    joined = api.post("/api/lojas/", {"nome": "Irmã", "shop_domain": "irma.myshopify.com",
                                      "deposito_id": loja.deposito_id}, format="json")
    assert joined.status_code == 201 and joined.json()["deposito_id"] == loja.deposito_id
    listed = {d["id"]: d["lojas"] for d in api.get("/api/depositos/").json()["results"]}
    assert sorted(listed[loja.deposito_id]) == sorted([loja.pk, joined.json()["id"]])


def test_another_users_deposito_is_not_there(api, loja, other_user, make_loja):
    foreign = make_loja(other_user)
    assert api.get(f"/api/depositos/{foreign.deposito_id}/").status_code == 404
    r = api.post("/api/lojas/", {"nome": "X", "shop_domain": "x.myshopify.com", "deposito_id": foreign.deposito_id},
                 format="json")
    assert r.status_code == 400 and "deposito_id" in r.json()["campos"]
    r = api.patch(f"/api/depositos/{loja.deposito_id}/", {"lojas": [foreign.pk]}, format="json")
    assert r.status_code == 400 and Produto.objects.filter(loja=foreign).count() == 0


def test_lojas_share_a_stock_and_a_sale_in_either_takes_from_it(api, user, make_loja, make_produto, post_webhook):
    a, b = make_loja(user), make_loja(user)
    make_produto(a, "CAM", estoque=10)
    make_produto(b, "BON", estoque=4)
    r = api.patch(f"/api/depositos/{a.deposito_id}/", {"lojas": [b.pk]}, format="json")
    assert r.status_code == 200, r.content
    assert sorted(r.json()["lojas"]) == sorted([a.pk, b.pk])
    b.refresh_from_db()
    assert b.deposito_id == a.deposito_id
    assert produtos(api, a) == produtos(api, b) == {"CAM": 10, "BON": 4}
    # b's sale of CAM (equal SKU in the depósito) and a's of BON (b's produto) take from the one stock
    assert post_webhook(b, "orders/paid", order_payload(1, [(1, "CAM", 3)])).json()["status"] == "processed"
    assert post_webhook(a, "orders/paid", order_payload(2, [(1, "BON", 1)])).json()["status"] == "processed"
    assert produtos(api, a) == {"CAM": 7, "BON": 3}
    alertas = api.get(f"/api/estoque/alertas/?loja_id={a.pk}").json()["results"]
    assert {x["produto_id"] for x in alertas} <= set(Produto.objects.filter(deposito_id=a.deposito_id)
                                                     .values_list("pk", flat=True))


def test_a_move_whose_skus_collide_is_refused_and_changes_nothing(api, user, make_loja, make_produto):
    a, b = make_loja(user), make_loja(user)
    make_produto(a, "CAM", estoque=10)
    make_produto(b, "CAM", estoque=2)
    before = sorted(Produto.objects.values_list("pk", "deposito_id", "estoque_atual"))
    r = api.patch(f"/api/depositos/{a.deposito_id}/", {"lojas": [b.pk]}, format="json")
    assert r.status_code == 400 and "CAM" in r.json()["campos"]["deposito_id"][0]
    assert sorted(Produto.objects.values_list("pk", "deposito_id", "estoque_atual")) == before
    b.refresh_from_db()
    assert b.deposito_id != a.deposito_id


def test_a_loja_leaves_with_its_own_produtos_unless_links_cross(api, user, make_loja, make_produto):
    a, b = make_loja(user), make_loja(user)
    make_produto(a, "CAM", estoque=10)
    bon = make_produto(b, "BON", estoque=4)
    assert api.patch(f"/api/depositos/{a.deposito_id}/", {"lojas": [b.pk]}, format="json").status_code == 200
    # A mapeamento of a's pointing at b's BON: b cannot leave without breaking it.
    Mapeamento.objects.create(loja=a, shopify_sku="BONE-AZUL", produto=bon)
    r = api.post("/api/depositos/", {"nome": "Só a B", "lojas": [b.pk]}, format="json")
    assert r.status_code == 400 and "BON" in r.json()["campos"]["deposito_id"][0]
    assert Deposito.objects.filter(nome="Só a B").count() == 0  # the new depósito was not kept either
    Mapeamento.objects.all().delete()
    r = api.post("/api/depositos/", {"nome": "Só a B", "lojas": [b.pk]}, format="json")
    assert r.status_code == 201, r.content
    assert produtos(api, b) == {"BON": 4} and produtos(api, a) == {"CAM": 10}
    # the emptied depósito can be deleted; one with lojas cannot
    assert api.delete(f"/api/depositos/{a.deposito_id}/").status_code == 400


def test_a_loja_deleted_from_a_shared_deposito_leaves_its_produtos_to_the_others(api, user, make_loja, make_produto,
                                                                                 post_webhook):
    a, b = make_loja(user), make_loja(user)
    make_produto(a, "CAM", estoque=10)
    assert api.patch(f"/api/depositos/{b.deposito_id}/", {"lojas": [a.pk]}, format="json").status_code == 200
    post_webhook(a, "orders/paid", order_payload(9, [(1, "CAM", 2)]))
    assert api.delete(f"/api/lojas/{a.pk}/").status_code == 204
    assert produtos(api, b) == {"CAM": 8}
    # A's lines stay in the ledger (loja_id null): the movements still add up to the stock
    lines = api.get(f"/api/estoque/movimentacoes/?loja_id={b.pk}").json()["results"]
    assert [(m["loja_id"], m["origem"], m["quantidade"]) for m in lines] == [
        (None, "shopify_pedido_pago", -2), (None, "inicial", 10)]
    assert sum(m["quantidade"] for m in lines) == 8


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
async def test_a_lojas_socket_receives_its_depositos_stock_events_and_follows_a_move(
        user, make_loja, make_produto, post_webhook, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    a, b = await sync_to_async(make_loja)(user), await sync_to_async(make_loja)(user)
    await sync_to_async(make_produto)(a, "CAM", estoque=10)
    await sync_to_async(move_loja)(loja=b, deposito=a.deposito)
    key = await sync_to_async(session_key_for)(user)
    ws = WebsocketCommunicator(websocket_application, f"/ws/estoque/?loja_id={b.pk}&session_key={key}",
                               headers=[(b"host", b"testserver")])
    connected, _ = await ws.connect(timeout=5)
    assert connected
    assert (await ws.receive_json_from(timeout=5))["type"] == "connection_established"
    await sync_to_async(post_webhook)(a, "orders/paid", order_payload(9, [(1, "CAM", 2)]))
    types = []
    while "venda_shopify_processada" not in types:
        message = await ws.receive_json_from(timeout=5)
        types.append(message["type"])
        if message["type"] == "estoque_atualizado":  # a sale in A, on B's socket: one stock
            assert message["data"]["loja_id"] == a.pk and message["data"]["deposito_id"] == a.deposito_id
            assert message["data"]["estoque_atual"] == 8
    assert "estoque_atualizado" in types
    # B leaves for a depósito of its own: its socket closes so the client reconnects to follow it.
    await sync_to_async(create_deposito)(owner=user, nome="Só a B", lojas=[b])
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 1012}
