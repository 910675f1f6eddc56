"""Issue 26 item 6 over real HTTP and a real socket: JSON nested deeper than the parser allows,
and an exchange rate whose conversions overflow Python's decimals, answer 400 naming what was
wrong, never 500 (CONTRACT section 8); a socket answers `error` and stays open. On both databases.

Before: a body of 100,000 `[` raised RecursionError (500) on every door, and closed a socket with
4503 as if the database were down; a `taxa` of 99999999999999.9999999999 was stored and then
`/api/vendas/resumo/` raised decimal.InvalidOperation (500)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import httpx
import pytest
from django.utils import timezone
from websockets.asyncio.client import connect

from chegouhub.common.jsonparse import MAX_DEPTH
from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.inventory.models import Produto
from chegouhub.sales.models import TaxaCambio, TipoValor, ValorVenda
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery
from chegouhub.stores.models import Loja

PASSWORD = "senha-forte-123"
BRACKETS = b"[" * 100_000  # the body
HUGE_RATE = "99999999999999.9999999999"  # the taxa: it fits the column (24 digits, 10 decimals)


def nested(depth: int) -> bytes:
    """An object whose `nome` nests `depth` levels in all (the object itself is the first)."""
    return b'{"nome": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def too_deep(r: httpx.Response) -> bool:
    return r.status_code == 400 and "níveis de aninhamento" in r.json()["erro"]


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_deep_json_is_a_400_on_every_door_and_a_socket_answers_error_and_stays_open(live_server_factory, user,
                                                                                     loja):
    srv = live_server_factory()
    produto = Produto.objects.create(loja=loja, sku="SKU-1", nome="Camisa", estoque_atual=5)
    json_headers = {"Content-Type": "application/json"}

    with httpx.Client(base_url=srv.url, timeout=20, headers=json_headers) as anonymous:
        for door in ("/api/auth/token/", "/api/auth/login/"):
            for body in (BRACKETS, nested(MAX_DEPTH + 1)):
                r = anonymous.post(door, content=body)
                assert too_deep(r), (door, r.status_code, r.text[:300])
        login = anonymous.post("/api/auth/login/", json={"username": "ana", "password": PASSWORD})
        assert login.status_code == 200, login.text
        session_key = login.json()["session_key"]
        token = anonymous.post("/api/auth/token/", json={"username": "ana", "password": PASSWORD}).json()["token"]

    with httpx.Client(base_url=srv.url, timeout=20,
                      headers={**json_headers, "Authorization": f"Token {token}"}) as api:
        doors = [("POST", "/api/lojas/"), ("PATCH", f"/api/lojas/{loja.pk}/"), ("POST", "/api/estoque/produtos/"),
                 ("POST", f"/api/estoque/produtos/{produto.pk}/movimentacoes/"), ("POST", "/api/cambio/"),
                 ("POST", "/api/push/inscricoes/")]
        for method, door in doors:
            for body in (BRACKETS, nested(MAX_DEPTH + 1)):
                r = api.request(method, door, content=body)
                assert too_deep(r), (method, door, r.status_code, r.text[:300])
        # At the limit the JSON is read, and the field is judged as any other (a list is no name)
        r = api.patch(f"/api/lojas/{loja.pk}/", content=nested(MAX_DEPTH))
        assert r.status_code == 400 and "nome" in r.json()["campos"], r.text[:300]
        assert Loja.objects.get(pk=loja.pk).nome == loja.nome
        assert Produto.objects.get(pk=produto.pk).estoque_atual == 5

    async def socket():
        async with connect(f"{srv.ws_url}/ws/estoque/?loja_id={loja.pk}&session_key={session_key}",
                           compression=None, open_timeout=5) as sock:
            assert json.loads(await asyncio.wait_for(sock.recv(), 5))["type"] == "connection_established"
            # within the frame limit (WS_MAX_CLIENT_FRAME_BYTES, 4 KiB), far beyond the nesting limit
            for frame in ("[" * 4000, '{"type": "ping", "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"):
                await sock.send(frame)
                answer = json.loads(await asyncio.wait_for(sock.recv(), 5))
                assert answer["type"] == "error", answer
                assert "níveis de aninhamento" in answer["data"]["erro"], answer
            await sock.send(json.dumps({"type": "ping"}))  # still open, still answering
            assert json.loads(await asyncio.wait_for(sock.recv(), 5))["type"] == "pong"

    asyncio.run(socket())


def _signed(loja, topic: str, body: bytes) -> dict:
    return signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic)


@pytest.mark.django_db(transaction=True)
async def test_a_signed_webhook_too_deep_is_400_and_kept_on_every_server_path(webhook_asgi, loja, make_produto):
    """CONTRACT section 4: verified but not a JSON object it can read -> 400, the raw body kept."""
    from asgiref.sync import sync_to_async

    await sync_to_async(make_produto)(loja, "SKU-1", estoque=5)
    deep_order = order_payload(7001, [(1, "SKU-1", 1)])
    deep_order["note_attributes"] = "@"  # replaced below by a list nested beyond the limit
    deep_body = encode(deep_order).replace(b'"@"', b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    cases = [("orders/paid", BRACKETS), ("products/update", BRACKETS), ("orders/paid", deep_body)]
    for topic, body in cases:
        r = await webhook_asgi.post("/api/estoque/webhook/shopify/", content=body, headers=_signed(loja, topic, body))
        assert r.status_code == 400, (topic, len(body), r.status_code, r.text[:300])
        assert "erro" in r.json()
    kept = await sync_to_async(list)(WebhookDelivery.objects.order_by("id").values_list("status", "body"))
    assert [(status, bytes(body)) for status, body in kept] == [(DeliveryStatus.INVALID, body) for _, body in cases]
    assert (await Produto.objects.aget(sku="SKU-1")).estoque_atual == 5
    # the same order, readable, is applied
    body = encode(order_payload(7001, [(1, "SKU-1", 1)]))
    r = await webhook_asgi.post("/api/estoque/webhook/shopify/", content=body, headers=_signed(loja, "orders/paid", body))
    assert r.status_code == 200, r.text
    assert (await Produto.objects.aget(sku="SKU-1")).estoque_atual == 4


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_a_rate_beyond_reason_is_400_naming_taxa_and_a_stored_one_never_breaks_the_summary(live_server_factory,
                                                                                          user, loja):
    srv = live_server_factory()
    today = timezone.localdate()
    # An amount near the column's top (1e15) times a rate of 1e12: 29 digits once rounded to
    # centavos, one more than Python's default decimal context holds.
    ValorVenda.objects.create(loja=loja, order_id=1, tipo=TipoValor.PEDIDO, referencia="1",
                              valor=Decimal("999999999999999.99"), moeda="USD", unidades=1, ocorrido_em=timezone.now())
    token = httpx.post(f"{srv.url}/api/auth/token/", json={"username": "ana", "password": PASSWORD}).json()["token"]
    with httpx.Client(base_url=srv.url, timeout=20, headers={"Authorization": f"Token {token}"}) as api:
        for taxa in (HUGE_RATE, "1000000000.0000000001"):
            r = api.post("/api/cambio/", json={"moeda": "USD", "taxa": taxa,
                                                "vigente_desde": (today - timedelta(days=1)).isoformat()})
            assert r.status_code == 400 and "taxa" in r.json()["campos"], r.text
        assert not TaxaCambio.objects.exists()

        # A rate stored before the limit (the column holds it) is converted exactly, never a 500
        TaxaCambio.objects.create(owner=user, moeda="USD", moeda_relatorio="BRL", taxa=Decimal("999999999999.99"),
                                  vigente_desde=today - timedelta(days=1))
        r = api.get("/api/vendas/resumo/", params={"moeda_relatorio": "BRL"})
        assert r.status_code == 200, r.text[:300]
        convertido = r.json()["convertido"]
        # what the database holds (SQLite keeps 15 significant digits), multiplied exactly
        valor, taxa = ValorVenda.objects.get().valor, TaxaCambio.objects.get().taxa
        with localcontext(prec=60):
            expected = format((valor * taxa).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")
        assert convertido["bruto"] == expected and convertido["sem_taxa"] == [], (convertido, expected)
        assert api.get("/api/cambio/").status_code == 200

        ok = api.post("/api/cambio/", json={"moeda": "EUR", "taxa": "1000000000",
                                             "vigente_desde": today.isoformat()})
        assert ok.status_code == 201 and Decimal(ok.json()["taxa"]) == Decimal("1e9"), ok.text
