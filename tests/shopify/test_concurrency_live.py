"""Concurrent signed webhooks over real HTTP against real server processes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from chegouhub.inventory.models import Movimentacao, Produto

pytestmark = [pytest.mark.live]


async def _send_all(url: str, requests: list[tuple[bytes, dict]], concurrency: int) -> list[int]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(body, headers):
            async with gate:
                r = await client.post(f"{url}/api/estoque/webhook/shopify/", content=body, headers=headers)
                return r.status_code

        return await asyncio.gather(*(one(b, h) for b, h in requests))


def _paid(loja, order_id: int, lines):
    body = encode(order_payload(order_id, lines))
    return body, signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain,
                                topic="orders/paid")


@pytest.mark.postgres
def test_100_concurrent_paid_orders_for_one_sku_are_exact(live_server_factory, make_user, make_loja, make_produto):
    loja = make_loja(make_user())
    produto = make_produto(loja, "HOT-SKU", estoque=500, minimo=0)
    server = live_server_factory(workers=3)
    requests = [_paid(loja, 90_000 + i, [(1, "HOT-SKU", 1)]) for i in range(100)]
    codes = asyncio.run(_send_all(server.url, requests, concurrency=100))
    assert codes == [200] * 100
    assert Produto.objects.get(pk=produto.pk).estoque_atual == 400
    moves = list(Movimentacao.objects.filter(produto=produto, origem="shopify_pedido_pago").order_by("id"))
    assert len(moves) == 100
    # each movement's before/after is consistent and together they form one unbroken chain
    assert all(m.estoque_atual == m.estoque_anterior - 1 for m in moves)
    assert sorted(m.estoque_anterior for m in moves) == list(range(401, 501))


@pytest.mark.postgres
def test_200_concurrent_webhooks_across_10_skus_and_5_lojas(live_server_factory, make_user, make_loja,
                                                            make_produto):
    owner = make_user()
    lojas = [make_loja(owner) for _ in range(5)]
    produtos = {(l.pk, i): make_produto(l, f"SKU-{i}", estoque=1000, minimo=0) for l in lojas for i in range(10)}
    server = live_server_factory(workers=3)
    expected = {key: 1000 for key in produtos}
    requests = []
    for n in range(200):
        loja = lojas[n % 5]
        a, b = n % 10, (n * 7 + 3) % 10
        lines = [(1, f"SKU-{a}", 1 + n % 3), (2, f"SKU-{b}", 1)]
        expected[(loja.pk, a)] -= 1 + n % 3
        expected[(loja.pk, b)] -= 1
        requests.append(_paid(loja, 70_000 + n, lines))
    codes = asyncio.run(_send_all(server.url, requests, concurrency=50))
    assert codes == [200] * 200
    actual = {key: Produto.objects.get(pk=p.pk).estoque_atual for key, p in produtos.items()}
    assert actual == expected

