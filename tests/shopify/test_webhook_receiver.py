"""Every row of CONTRACT section 4's table, over Django's full request stack."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import override_settings

from chegouhub.devtools.payloads import order_payload, refund_payload, sample_order
from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def stock(produto) -> int:
    return Produto.objects.get(pk=produto.pk).estoque_atual


def test_verified_new_paid_order_is_processed_and_takes_stock(loja, make_produto, post_webhook):
    camisa = make_produto(loja, "CAMISA-P", estoque=10)
    r = post_webhook(loja, "orders/paid", order_payload(1001, [(1, "CAMISA-P", 3)]))
    assert r.status_code == 200, r.content
    assert r.json() == {"status": "processed"}
    assert stock(camisa) == 7
    mov = Movimentacao.objects.filter(produto=camisa, origem="shopify_pedido_pago").get()
    assert (mov.quantidade, mov.estoque_anterior, mov.estoque_atual, mov.referencia) == (-3, 10, 7, "1001")


def test_same_webhook_id_is_a_duplicate_with_no_effect(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=5)
    payload = order_payload(1002, [(1, "SKU1", 2)])
    assert post_webhook(loja, "orders/paid", payload, webhook_id="wh-1").json() == {"status": "processed"}
    r = post_webhook(loja, "orders/paid", payload, webhook_id="wh-1")
    assert (r.status_code, r.json()) == (200, {"status": "duplicate"})
    assert stock(p) == 3


def test_same_event_id_under_new_webhook_id_is_a_duplicate(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=5)
    payload = order_payload(1003, [(1, "SKU1", 2)])
    post_webhook(loja, "orders/paid", payload, webhook_id="a", event_id="ev-9")
    r = post_webhook(loja, "orders/paid", payload, webhook_id="b", event_id="ev-9")
    assert r.json() == {"status": "duplicate"}
    assert stock(p) == 3


def test_replay_under_new_ids_still_takes_stock_once(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=5)
    payload = order_payload(1004, [(1, "SKU1", 2)])
    post_webhook(loja, "orders/paid", payload)
    r = post_webhook(loja, "orders/paid", payload)  # fresh webhook id and event id
    assert r.json() == {"status": "processed"}
    assert stock(p) == 3
    assert Movimentacao.objects.filter(produto=p, origem="shopify_pedido_pago").count() == 1


def test_topic_without_stock_effect_is_ignored_but_kept(loja, post_webhook):
    r = post_webhook(loja, "products/update", {"id": 1, "title": "x"})
    assert (r.status_code, r.json()) == (200, {"status": "ignored"})
    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED


@pytest.mark.parametrize(
    "header", ["X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_required_header_is_400(loja, post_webhook, header):
    r = post_webhook(loja, "orders/paid", order_payload(1, [(1, "A", 1)]), headers={header: None})
    assert r.status_code == 400
    assert header in r.json()["erro"]
    assert not WebhookDelivery.objects.exists()


def test_header_names_are_case_insensitive(loja, make_produto, client):
    from chegouhub.devtools.payloads import encode, signed_headers

    p = make_produto(loja, "SKU1", estoque=5)
    body = encode(order_payload(1005, [(1, "SKU1", 1)]))
    h = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic="orders/paid")
    extra = {f"HTTP_{k.lower().replace('-', '_').upper()}": v for k, v in h.items()}
    r = client.generic("POST", "/api/estoque/webhook/shopify/", body, content_type="application/json", **extra)
    assert r.status_code == 200
    assert stock(p) == 4


def test_domain_outside_myshopify_is_403(loja, post_webhook):
    r = post_webhook(loja, "orders/paid", {"id": 1}, headers={"X-Shopify-Shop-Domain": "evil.example.com"})
    assert r.status_code == 403
    assert "myshopify" in r.json()["erro"]


def test_unknown_shop_is_404(loja, post_webhook):
    r = post_webhook(loja, "orders/paid", {"id": 1}, headers={"X-Shopify-Shop-Domain": "ninguem.myshopify.com"})
    assert r.status_code == 404


def test_inactive_loja_is_404(make_loja, user, post_webhook):
    inactive = make_loja(user, ativo=False)
    assert post_webhook(inactive, "orders/paid", {"id": 1}).status_code == 404


def test_wrong_hmac_is_401_and_changes_nothing(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=5)
    r = post_webhook(loja, "orders/paid", order_payload(7, [(1, "SKU1", 1)]), secret="not-the-secret")
    assert r.status_code == 401
    assert "HMAC" in r.json()["erro"]
    assert stock(p) == 5
    assert not WebhookDelivery.objects.exists()


def test_body_modified_after_signing_is_401(loja, post_webhook, client):
    from chegouhub.devtools.payloads import encode, signed_headers

    body = encode(order_payload(8, [(1, "SKU1", 1)]))
    h = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic="orders/paid")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in h.items()}
    r = client.generic("POST", "/api/estoque/webhook/shopify/", body.replace(b'"quantity":1', b'"quantity":9'),
                       content_type="application/json", **extra)
    assert r.status_code == 401


@override_settings(WEBHOOK_MAX_BODY_BYTES=1024)
def test_body_over_limit_is_413(loja, post_webhook):
    r = post_webhook(loja, "orders/paid", None, raw=b"{" + b" " * 2000 + b"}")
    assert r.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_default_limit_is_5_mib(loja, post_webhook):
    from django.conf import settings

    assert settings.WEBHOOK_MAX_BODY_BYTES == 5 * 1024 * 1024
    r = post_webhook(loja, "orders/paid", None, raw=b"[" + b"0," * (3 * 1024 * 1024) + b"0]")
    assert r.status_code == 413


@pytest.mark.parametrize("raw", [b"not json at all", b"[1, 2, 3]", b'"a string"', b"\xff\xfe"])
def test_verified_non_object_is_400_and_raw_body_kept(loja, post_webhook, raw):
    r = post_webhook(loja, "orders/paid", None, raw=raw)
    assert r.status_code == 400
    assert "JSON" in r.json()["erro"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.INVALID
    assert bytes(delivery.body) == raw


@override_settings(WEBHOOK_FAILED_REQUESTS_PER_MINUTE=5)
def test_too_many_failures_from_one_ip_is_429_but_signed_webhooks_pass(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=100)
    codes = [post_webhook(loja, "orders/paid", {"id": i}, secret="wrong", remote_addr="10.0.0.66").status_code
             for i in range(8)]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429] * 3
    # the same address, correctly signed: never refused for rate reasons
    r = post_webhook(loja, "orders/paid", order_payload(99, [(1, "SKU1", 1)]), remote_addr="10.0.0.66")
    assert r.status_code == 200
    assert stock(p) == 99
    # another address is not affected
    assert post_webhook(loja, "orders/paid", {"id": 1}, secret="wrong", remote_addr="10.0.0.67").status_code == 401


def test_burst_of_1000_signed_orders_from_one_shop_all_answer_200(loja, make_produto, post_webhook):
    p = make_produto(loja, "FLASH", estoque=2000)
    codes = {post_webhook(loja, "orders/paid", order_payload(50_000 + i, [(1, "FLASH", 1)]),
                          remote_addr="10.1.1.1").status_code for i in range(1000)}
    assert codes == {200}
    assert stock(p) == 1000


def test_database_unavailable_is_503(loja, post_webhook):
    with mock.patch("chegouhub.shopify.services.store_and_process", side_effect=OperationalError("down")):
        r = post_webhook(loja, "orders/paid", order_payload(5, [(1, "A", 1)]))
    assert r.status_code == 503
    assert "erro" in r.json()


def test_processing_failure_answers_accepted_and_keeps_the_delivery(loja, make_produto, post_webhook):
    make_produto(loja, "SKU1", estoque=5)
    with mock.patch("chegouhub.shopify.services.apply_stock_changes", side_effect=RuntimeError("boom")):
        r = post_webhook(loja, "orders/paid", order_payload(6, [(1, "SKU1", 1)]))
    assert (r.status_code, r.json()) == (200, {"status": "accepted"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is not None
    assert delivery.last_error == "RuntimeError"


def test_shopify_admin_test_notification_changes_nothing(loja, make_produto, post_webhook):
    """The sample order is test, voided and cancelled, with two lines of the same SKU."""
    p = make_produto(loja, "IPOD2008PINK", estoque=10)
    for topic in ("orders/paid", "orders/cancelled"):
        r = post_webhook(loja, topic, sample_order())
        assert r.status_code == 200
    assert stock(p) == 10
    assert not Movimentacao.objects.filter(produto=p).exclude(origem="inicial").exists()


def test_two_lines_with_the_same_sku_both_take_stock(loja, make_produto, post_webhook):
    p = make_produto(loja, "IPOD2008PINK", estoque=10)
    order = sample_order()
    order.update(cancelled_at=None, financial_status="paid", test=False)
    post_webhook(loja, "orders/paid", order)
    assert stock(p) == 8
    post_webhook(loja, "orders/cancelled", {**order, "cancelled_at": "2019-06-05T00:00:00-04:00"})
    assert stock(p) == 10


def test_lines_without_sku_or_unmapped_change_nothing_and_are_counted(loja, make_produto, post_webhook, api):
    p = make_produto(loja, "KNOWN", estoque=10)
    post_webhook(loja, "orders/paid", order_payload(77, [(1, "KNOWN", 1), (2, None, 4), (3, "GHOST", 2)]))
    assert stock(p) == 9
    stats = api.get("/api/estoque/webhook/stats/?days=1").json()
    assert {"sku": "GHOST", "ocorrencias": 1} in stats["skus_nao_mapeados"]
    assert {"sku": None, "ocorrencias": 1} in stats["skus_nao_mapeados"]


def test_explicit_mapeamento_wins_over_equal_sku(loja, make_produto, post_webhook):
    from chegouhub.inventory.models import Mapeamento

    same_sku = make_produto(loja, "SHOP-SKU", estoque=10)
    target = make_produto(loja, "INTERNAL-1", estoque=10)
    Mapeamento.objects.create(loja=loja, shopify_sku="SHOP-SKU", produto=target)
    post_webhook(loja, "orders/paid", order_payload(88, [(1, "SHOP-SKU", 2)]))
    assert (stock(same_sku), stock(target)) == (10, 8)


def test_refund_no_restock_puts_nothing_back(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=10)
    post_webhook(loja, "orders/paid", order_payload(10, [(1, "SKU1", 3)]))
    post_webhook(loja, "refunds/create", refund_payload(500, 10, [(1, 3, "no_restock")]))
    assert stock(p) == 7


def test_stock_is_never_clamped(loja, make_produto, post_webhook):
    p = make_produto(loja, "SKU1", estoque=1)
    post_webhook(loja, "orders/paid", order_payload(11, [(1, "SKU1", 4)]))
    assert stock(p) == -3


def test_app_uninstalled_marks_webhooks_gone_and_notifies(loja, post_webhook, django_capture_on_commit_callbacks,
                                                         captured_events):
    with django_capture_on_commit_callbacks(execute=True):
        r = post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain})
    assert r.json() == {"status": "processed"}
    loja.refresh_from_db()
    assert loja.webhook_status == "desinstalado"
    (group, event), = captured_events
    assert group == f"user.{loja.owner_id}"
    assert event["type"] == "webhook_status_change"
    assert event["data"]["status"] == "desinstalado"


def test_stats_count_each_outcome(loja, make_produto, post_webhook, api):
    make_produto(loja, "SKU1", estoque=10)
    payload = order_payload(12, [(1, "SKU1", 1)])
    post_webhook(loja, "orders/paid", payload, webhook_id="x")
    post_webhook(loja, "orders/paid", payload, webhook_id="x")
    post_webhook(loja, "products/update", {"id": 1})
    post_webhook(loja, "orders/paid", payload, secret="bad")
    post_webhook(loja, "orders/paid", None, raw=b"nope")
    s = api.get(f"/api/estoque/webhook/stats/?days=1&loja_id={loja.pk}").json()
    assert (s["total"], s["processados"], s["duplicados"], s["ignorados"], s["falhas"], s["hmac_invalido"]) == (
        5, 1, 1, 1, 1, 1)
    assert s["por_topico"] == {"orders/paid": 2, "products/update": 1}
    assert api.get("/api/estoque/webhook/stats/?days=0").status_code == 400
