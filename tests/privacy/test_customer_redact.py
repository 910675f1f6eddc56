"""customers/redact (CONTRACT 13): every stored copy of the customer's data redacted by the worker;
stock, movements and sales unchanged, and replays or reconciliation of those orders still agree."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.db import models

from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.shopify import ledger
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery
from chegouhub.shopify.reconcile import apply_order_snapshot

from .conftest import CANARIES, CANARY_EMAIL, CANARY_PHONE, CUSTOMER_ID, customer_order, customer_refund, run_worker


def _stock(loja):
    return dict(Produto.objects.filter(loja=loja).values_list("sku", "estoque_atual"))


def _movements(loja):
    return list(Movimentacao.objects.filter(loja=loja).order_by("id").values_list(
        "produto_id", "quantidade", "estoque_anterior", "estoque_atual", "origem", "referencia"))


def _bodies(loja) -> dict[int, bytes]:
    return {d.pk: bytes(d.body) for d in WebhookDelivery.objects.filter(loja=loja)}


def _held_text(exclude_bodies: bool) -> str:
    """Every text and JSON value stored in every table, as one string (bodies optional)."""
    chunks = []
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields
                  if isinstance(f, (models.CharField, models.TextField, models.JSONField, models.BinaryField))]
        if model is WebhookDelivery and exclude_bodies:
            fields.remove("body")
        for row in model._default_manager.values_list(*fields) if fields else []:
            for value in row:
                if isinstance(value, (bytes, memoryview)):
                    value = bytes(value).decode("utf-8", "replace")
                chunks.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return "\n".join(chunks)


@pytest.fixture
def shop(loja, make_produto, post_webhook):
    """Two orders of the canary customer (one refunded), and one of somebody else."""
    make_produto(loja, "CAMISA", estoque=20)
    make_produto(loja, "BONE", estoque=20)
    assert post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 3), (12, "BONE", 1)])).json() == {
        "status": "processed"}
    post_webhook(loja, "refunds/create", customer_refund(501, 1001, [(11, 1, "return")]))
    post_webhook(loja, "orders/paid", customer_order(1002, [(21, "BONE", 2)]))
    post_webhook(loja, "orders/paid", customer_order(1003, [(31, "CAMISA", 1)], customer_id=999, email="outra@example.org",
                                                     phone="+5521900000000", street="Avenida Outra 9", name="Outra"))
    return loja


def _redact(post_webhook, loja, orders, **kw):
    return post_webhook(loja, "customers/redact", {
        "shop_id": 1, "shop_domain": loja.shop_domain,
        "customer": {"id": CUSTOMER_ID, "email": CANARY_EMAIL, "phone": CANARY_PHONE}, "orders_to_redact": orders}, **kw)


def test_customer_data_is_redacted_everywhere_and_stock_is_untouched(shop, api, post_webhook):
    loja = shop
    stock, movements = _stock(loja), _movements(loja)
    sales = api.get("/api/vendas/resumo/?days=7").json()
    before = _bodies(loja)
    assert any(CANARY_EMAIL.encode() in b for b in before.values())

    answer = _redact(post_webhook, loja, [1001])
    assert answer.status_code == 200 and answer.json() == {"status": "processed"}
    pending = api.get("/api/privacidade/pedidos/").json()["results"]
    assert [(p["tipo"], p["status"], p["concluido_em"]) for p in pending] == [("apagar_cliente", "na_fila", None)]
    assert _bodies(loja)[max(before)] == before[max(before)]  # nothing done inside the answer

    run_worker()

    after = _bodies(loja)
    for pk, body in after.items():
        text = body.decode()
        order_3 = json.loads(before[pk]).get("id") == 1003 if before.get(pk) else False
        if order_3:
            assert body == before[pk]  # another customer's order: untouched
            continue
        for canary in CANARIES:
            assert canary not in text, (pk, canary)
    # Orders 1001 (listed) and 1002 (not listed, but naming the customer) and the refund: redacted,
    # their stock facts exactly as before.
    for pk, old in before.items():
        delivery = WebhookDelivery.objects.get(pk=pk)
        if delivery.topic in ("orders/paid", "refunds/create"):
            assert ledger.read_facts(delivery.topic, json.loads(after[pk])) == ledger.read_facts(
                delivery.topic, json.loads(old))
    paid = json.loads(after[min(after)])
    assert paid["name"] == "#1001" and paid["financial_status"] == "paid"
    assert [(li["id"], li["sku"], li["quantity"]) for li in paid["line_items"]] == [(11, "CAMISA", 3), (12, "BONE", 1)]
    assert paid["total_price_set"] == json.loads(before[min(before)])["total_price_set"]
    assert _stock(loja) == stock and _movements(loja) == movements
    assert api.get("/api/vendas/resumo/?days=7").json() == sales

    done = api.get("/api/privacidade/pedidos/").json()["results"][0]
    assert done["status"] == "concluido" and done["concluido_em"]
    assert done["relatorio"]["total_redigidas"] == 3
    listing = api.get("/api/privacidade/pedidos/").content.decode()
    assert all(canary not in listing for canary in CANARIES)
    # Nothing else holds the customer's data any more: every text column of every table.
    held = _held_text(exclude_bodies=False)
    assert CANARY_EMAIL not in held and CANARY_PHONE not in held and "Canário Secreto" not in held
    # nor the customer's Shopify id (the request's idempotency key holds a digest of it)
    assert str(CUSTOMER_ID) not in held


def test_replay_retry_and_reconcile_after_redaction_give_the_same_stock(shop, api, post_webhook):
    loja = shop
    _redact(post_webhook, loja, [1001])
    run_worker()
    stock, movements = _stock(loja), _movements(loja)
    paid = WebhookDelivery.objects.filter(loja=loja, topic="orders/paid", order_id=1001).get()
    assert CANARY_EMAIL.encode() not in bytes(paid.body)

    WebhookDelivery.objects.filter(pk=paid.pk).update(status=DeliveryStatus.FAILED)
    replay = api.post(f"/api/estoque/webhook/entregas/{paid.pk}/replay/")
    assert replay.status_code == 200 and replay.json()["status"] == "processed"
    assert _stock(loja) == stock

    refund = WebhookDelivery.objects.get(loja=loja, topic="refunds/create")
    WebhookDelivery.objects.filter(pk=refund.pk).update(status=DeliveryStatus.FAILED, next_attempt_at="2000-01-01T00:00Z")
    run_worker()  # the retry worker takes it
    refund.refresh_from_db()
    assert refund.status == DeliveryStatus.PROCESSED
    assert _stock(loja) == stock and _movements(loja) == movements

    # Reconciliation reads the order from Shopify again: the ledger already has it all.
    order = customer_order(1001, [(11, "CAMISA", 3), (12, "BONE", 1)])
    order["refunds"] = [customer_refund(501, 1001, [(11, 1, "return")])]
    order["financial_status"] = "PAID"
    assert apply_order_snapshot(loja.pk, order) is False
    assert _stock(loja) == stock and _movements(loja) == movements


def test_a_redelivery_is_a_duplicate_or_changes_nothing(shop, api, post_webhook):
    loja = shop
    assert _redact(post_webhook, loja, [1001], webhook_id="redact-1").json() == {"status": "processed"}
    assert _redact(post_webhook, loja, [1001], webhook_id="redact-1").json() == {"status": "duplicate"}
    run_worker()
    done = api.get("/api/privacidade/pedidos/").json()
    bodies = _bodies(loja)
    assert _redact(post_webhook, loja, [1001], webhook_id="redact-2").json() == {"status": "processed"}
    run_worker()
    assert api.get("/api/privacidade/pedidos/").json() == done
    bodies_after = _bodies(loja)
    assert {pk: b for pk, b in bodies_after.items() if pk in bodies} == bodies


def test_no_personal_data_reaches_the_ledger_events_sales_alerts_or_logs(shop, settings):
    """Before any redaction: the raw bodies are the only copy (the event log, the ledger, the
    movements, the sales, the outbound alerts' outbox and the log files hold none)."""
    held = _held_text(exclude_bodies=True)
    for canary in CANARIES:
        assert canary not in held, canary
    for log in settings.LOG_DIR.glob("*.log"):
        text = log.read_text(errors="replace")
        assert CANARY_EMAIL not in text and CANARY_PHONE not in text and "Canário Secreto" not in text


def test_a_copy_arriving_after_the_redaction_is_redacted_too(shop, post_webhook):
    loja = shop
    _redact(post_webhook, loja, [1001])
    run_worker()
    stock = _stock(loja)
    # Shopify's late retry of the order's paid, under a new webhook id, and its cancellation.
    post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 3), (12, "BONE", 1)]))
    post_webhook(loja, "orders/cancelled", customer_order(1001, [(11, "CAMISA", 3), (12, "BONE", 1)], cancelled=True))
    assert any(CANARY_EMAIL.encode() in b for b in _bodies(loja).values())
    cancelled_stock = _stock(loja)
    assert cancelled_stock != stock  # the cancellation put the order's stock back
    run_worker()
    for body in _bodies(loja).values():
        if b'"id":1003' not in body:
            assert all(canary.encode() not in body for canary in CANARIES)
    assert _stock(loja) == cancelled_stock
