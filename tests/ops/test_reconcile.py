"""reconcile_orders against the fake Shopify: pagination, throttling, the cursor, errors, and
subscriptions Shopify removed (detected, announced, re-created)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from chegouhub.shopify.models import ReconcileCursor
from chegouhub.devtools.payloads import order_payload, refund_payload
from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.notify.models import OutboundAlert
from chegouhub.realtime.models import Event
from chegouhub.shopify.reconcile import OVERLAP, reconcile
from chegouhub.shopify.subscriptions import cleanup_webhooks, configure_webhooks
from chegouhub.stores.models import Loja
from tests.devtools.fake_fixtures import fake_shopify, fake_shopify_server, register  # noqa: F401

pytestmark = pytest.mark.django_db


def stock(produto) -> int:
    return Produto.objects.get(pk=produto.pk).estoque_atual


def add_order(fake, loja, order_id, lines, **extra):
    order = dict(order_payload(order_id, lines), financial_status="paid")
    order.update(extra)
    fake.http.post(f"/_fake/shops/{loja.shop_domain}/orders", json=order).raise_for_status()


def test_many_pages_under_throttling_all_applied_once(fake_shopify, loja, make_produto):
    register(fake_shopify, [loja], bucket_size=1000, restore_rate=1000)
    p = make_produto(loja, "PG-A", estoque=100, minimo=0)
    for n in range(25):  # three pages of ten
        add_order(fake_shopify, loja, 10_000 + n, [(1, "PG-A", 1)])
    add_order(fake_shopify, loja, 10_100, [(1, "PG-A", 5)], financial_status="pending")  # not paid: nothing
    add_order(fake_shopify, loja, 10_101, [(1, "SEM-SKU", 5)])  # unmapped: nothing
    fake_shopify.set_bucket(loja.shop_domain, available=0)  # start throttled: the client must wait
    (result,) = reconcile(loja_id=loja.pk, subscriptions=False)
    assert result.erro is None
    assert result.orders == 27
    assert len(result.corrected) == 26  # 25 paid + the unmapped one (its facts recorded)
    assert stock(p) == 75
    assert fake_shopify.shop(loja.shop_domain)["stats"]["throttled"] >= 1
    (again,) = reconcile(loja_id=loja.pk, subscriptions=False)
    assert again.corrected == [] and stock(p) == 75
    assert Movimentacao.objects.filter(produto=p, origem="shopify_pedido_pago").count() == 25


def test_cancel_and_refund_seen_only_by_reconciliation(fake_shopify, loja, make_produto, post_webhook):
    register(fake_shopify, [loja])
    p = make_produto(loja, "CR-A", estoque=10, minimo=0)
    payload = order_payload(20_000, [(1, "CR-A", 4)])
    add_order(fake_shopify, loja, 20_000, [(1, "CR-A", 4)])
    post_webhook(loja, "orders/paid", payload)  # the paid came by webhook
    assert stock(p) == 6
    fake_shopify.http.post(f"/_fake/shops/{loja.shop_domain}/refunds",
                           json=refund_payload(21_000, 20_000, [(1, 1, "return")])).raise_for_status()
    (result,) = reconcile(loja_id=loja.pk, subscriptions=False)
    assert result.corrected == [20_000] and stock(p) == 7
    assert Movimentacao.objects.filter(produto=p, origem="shopify_reembolso").count() == 1
    fake_shopify.http.post(f"/_fake/shops/{loja.shop_domain}/orders/20000/cancel").raise_for_status()
    reconcile(loja_id=loja.pk, subscriptions=False)
    assert stock(p) == 10  # everything the order took is back, never more
    # the late webhooks change nothing now
    post_webhook(loja, "refunds/create", refund_payload(21_000, 20_000, [(1, 1, "return")]))
    post_webhook(loja, "orders/cancelled", order_payload(20_000, [(1, "CR-A", 4)], cancelled=True))
    assert stock(p) == 10


def test_the_cursor_moves_forward_and_since_overrides_it(fake_shopify, loja, make_produto):
    register(fake_shopify, [loja])
    before = datetime.now(UTC)
    call_command("reconcile_orders", "--loja-id", str(loja.pk), "--no-subscriptions")
    cursor = ReconcileCursor.objects.get(loja=loja)
    assert cursor.orders_until >= before - timedelta(seconds=1)
    (result,) = reconcile(loja_id=loja.pk, subscriptions=False)
    assert result.since == (cursor.orders_until - OVERLAP).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (explicit,) = reconcile(loja_id=loja.pk, since=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), subscriptions=False)
    assert explicit.since == "2026-01-02T03:04:05Z"
    with pytest.raises(CommandError):
        call_command("reconcile_orders", "--since", "ontem")


def test_shopify_refusing_the_token_is_reported_and_the_cursor_stays(fake_shopify, loja):
    fake_shopify.add_shop(loja.shop_domain, "another-token")
    with pytest.raises(CommandError):
        call_command("reconcile_orders", "--loja-id", str(loja.pk), "--no-subscriptions")
    assert not ReconcileCursor.objects.filter(loja=loja).exists()
    (result,) = reconcile(loja_id=loja.pk, subscriptions=False)
    assert result.erro


def test_removed_subscriptions_are_detected_announced_and_recreated(fake_shopify, loja, settings):
    settings.WEBHOOK_BASE_DOMAIN = "https://sync.example.com"
    settings.NOTIFY_SEND_IMMEDIATELY = False
    Loja.objects.filter(pk=loja.pk).update(slack_webhook_url="https://hooks.slack.com/services/T/B/x")
    register(fake_shopify, [loja])
    configure_webhooks(lojas=[loja], base_domain=settings.WEBHOOK_BASE_DOMAIN)
    loja.refresh_from_db()
    assert loja.webhook_status == "configurado"
    assert len(fake_shopify.subscriptions(loja.shop_domain)) == 4
    # Shopify deletes them (repeated delivery failures); our database does not know yet
    cleanup_webhooks(lojas=[loja], base_domain=settings.WEBHOOK_BASE_DOMAIN, record=False)
    assert fake_shopify.subscriptions(loja.shop_domain) == []

    (result,) = reconcile(loja_id=loja.pk)
    assert result.resubscribed and result.subscriptions == "configurado"
    assert len(fake_shopify.subscriptions(loja.shop_domain)) == 4
    statuses = [e.data["status"] for e in Event.objects.filter(type="webhook_status_change").order_by("id")]
    assert statuses[-2:] == ["removido", "configurado"]
    lost = OutboundAlert.objects.get(kind="webhook_perdido")
    assert lost.channel == "slack" and loja.shop_domain in lost.text
    # nothing removed: a further run leaves everything as it is
    (calm,) = reconcile(loja_id=loja.pk)
    assert not calm.resubscribed and calm.subscriptions == "configurado"
    assert OutboundAlert.objects.filter(kind="webhook_perdido").count() == 1
