"""A server process killed with SIGKILL in the middle of a stream of webhooks.

Whatever was in flight is lost with the process; Shopify gets no 200 for it and redelivers
(same webhook id) to the restarted server. Each order must end up applied exactly once: a
delivery that committed before the kill is a duplicate on redelivery, one that did not is
processed then. At the end Shopify redelivers everything once more (at-least-once), to no effect.
"""

from __future__ import annotations

import pytest

from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.shopify.models import DeliveryStatus, OrderLedger, WebhookDelivery
from tests.live import LiveServer
from tests.reliability.shopify_sender import ShopifySender, paid_webhooks

# On the PostgreSQL pass: the production database, served by the lean webhook route.
pytestmark = [pytest.mark.live, pytest.mark.postgres]


def test_sigkill_mid_stream_then_redelivery_is_exactly_once(live_server_factory, make_user, make_loja,
                                                            make_produto):
    loja = make_loja(make_user())
    produto = make_produto(loja, "KILL-1", estoque=1000, minimo=0)
    other = make_produto(loja, "KILL-2", estoque=1000, minimo=0)
    n = 50
    webhooks = paid_webhooks(loja, range(400_000, 400_000 + n), "KILL-1")
    webhooks += paid_webhooks(loja, range(500_000, 500_000 + n // 2), "KILL-2", qty=2)
    first = live_server_factory(workers=2)
    current = {"url": first.url}
    sender = ShopifySender(lambda: current["url"], concurrency=8, deadline_seconds=120)
    thread = sender.start(webhooks)
    sender.wait_acked(30)
    first.kill()  # SIGKILL to the whole process group, mid-stream
    second = LiveServer(workers=1)
    second.port, second.url = first.port, first.url  # the same address: Shopify knows one URL
    try:
        second.start()
        thread.join(150)
        assert not thread.is_alive()
        assert sender.failed == []
        # Shopify's at-least-once: everything again, all duplicates now
        again = ShopifySender(second.url, concurrency=8)
        again.send_all(webhooks)
    finally:
        second.stop()
    total = len(webhooks)
    assert again.outcomes == {"200 duplicate": total}, dict(again.outcomes)
    assert WebhookDelivery.objects.count() == total
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PROCESSED}
    assert Produto.objects.get(pk=produto.pk).estoque_atual == 1000 - n
    assert Produto.objects.get(pk=other.pk).estoque_atual == 1000 - 2 * (n // 2)
    assert Movimentacao.objects.filter(origem="shopify_pedido_pago").count() == total
    assert OrderLedger.objects.filter(paid=True).count() == total
    print(f"\nSIGKILL: {total} webhooks; answers during the stream {dict(sender.outcomes)}")
