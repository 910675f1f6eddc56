"""Alerts open on crossing, resolve on rising; events match their schema and go out after commit."""

from __future__ import annotations

import pytest

from chegouhub.devtools.payloads import order_payload
from chegouhub.inventory.models import Alerta
from chegouhub.inventory.services import adjust_stock
from chegouhub.realtime.events import EVENT_SCHEMAS
from chegouhub.realtime.models import Event

pytestmark = pytest.mark.django_db


def active(produto) -> set[str]:
    return set(Alerta.objects.filter(produto=produto, status="ativo").values_list("tipo", flat=True))


def test_low_then_zero_then_back_up(loja, make_produto):
    p = make_produto(loja, "X", estoque=10, minimo=3)
    adjust_stock(produto=p, quantidade=-7, motivo="venda balcão")  # 3: low
    assert active(p) == {"estoque_baixo"}
    low = Alerta.objects.get(produto=p, tipo="estoque_baixo")
    assert (low.prioridade, low.estoque_atual, low.estoque_minimo) == ("alta", 3, 3)
    adjust_stock(produto=p, quantidade=-1, motivo="x")  # 2: still low, no second alert
    assert Alerta.objects.filter(produto=p, tipo="estoque_baixo").count() == 1
    adjust_stock(produto=p, quantidade=-5, motivo="x")  # -3: zero (critical)
    assert active(p) == {"estoque_baixo", "estoque_zerado"}
    assert Alerta.objects.get(produto=p, tipo="estoque_zerado").prioridade == "critica"
    adjust_stock(produto=p, quantidade=4, motivo="x")  # 1: zero resolved, low stays
    assert active(p) == {"estoque_baixo"}
    adjust_stock(produto=p, quantidade=10, motivo="reposição")  # 11: all resolved
    assert active(p) == set()
    assert Alerta.objects.filter(produto=p, status="resolvido", resolvido_em__isnull=False).count() == 2


def test_minimum_zero_never_opens_low(loja, make_produto):
    p = make_produto(loja, "Y", estoque=1, minimo=0)
    adjust_stock(produto=p, quantidade=-1, motivo="x")
    assert active(p) == {"estoque_zerado"}


def test_sale_emits_schema_valid_events_after_commit(loja, make_produto, post_webhook, captured_events,
                                                     django_capture_on_commit_callbacks):
    p = make_produto(loja, "Z", estoque=2, minimo=1)
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(loja, "orders/paid", order_payload(42, [(1, "Z", 2), (2, "NOPE", 1)], name="#1042"))
    types = [e["type"] for _, e in captured_events]
    assert types.count("venda_shopify_processada") == 1
    assert "estoque_atualizado" in types and "produto_estoque_zero" in types and "alerta_estoque_gerado" in types
    for group, event in captured_events:
        assert group == f"deposito.{loja.deposito_id}"
        assert set(event) == {"type", "data", "id", "timestamp", "priority"}
        assert set(event["data"]) == EVENT_SCHEMAS[event["type"]][1]
    sale = next(e for _, e in captured_events if e["type"] == "venda_shopify_processada")
    assert sale["data"]["order_name"] == "#1042"
    assert sale["data"]["itens"] == [
        {"sku": "Z", "produto_id": p.pk, "quantidade": 2, "estoque_anterior": 2, "estoque_atual": 0}]
    assert sale["data"]["nao_mapeados"] == ["NOPE"]
    zero = next(e for _, e in captured_events if e["type"] == "produto_estoque_zero")
    assert zero["priority"] == "critica"
    # the durable log holds exactly what was published, in id order
    assert [e["id"] for _, e in captured_events] == sorted(e["id"] for _, e in captured_events)
    assert Event.objects.filter(id__in=[e["id"] for _, e in captured_events]).count() == len(captured_events)


def test_nothing_is_published_when_the_transaction_rolls_back(loja, make_produto, captured_events,
                                                              django_capture_on_commit_callbacks):
    from django.db import transaction

    p = make_produto(loja, "R", estoque=5, minimo=0)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                adjust_stock(produto=p, quantidade=-1, motivo="x")
                raise RuntimeError("rollback")
    assert captured_events == []


def test_publish_failure_never_fails_the_change(loja, make_produto, monkeypatch, django_capture_on_commit_callbacks):
    from chegouhub.realtime import events

    async def broken(messages):
        raise ConnectionError("redis down")

    monkeypatch.setattr(events, "_publish_async", broken)
    p = make_produto(loja, "S", estoque=5, minimo=0)
    with django_capture_on_commit_callbacks(execute=True):
        movement = adjust_stock(produto=p, quantidade=-2, motivo="x")
    assert movement.estoque_atual == 3
    assert Event.objects.filter(type="estoque_atualizado", data__produto_id=p.pk).count() == 2


def test_one_stock_log_line_per_operation_lists_its_products(loja, make_produto, post_webhook):
    import json
    import logging

    from chegouhub.common.logging import estoque_log

    a, b = make_produto(loja, "LA", estoque=9, minimo=1), make_produto(loja, "LB", estoque=8, minimo=1)
    formatter = estoque_log.handlers[0].formatter  # the JSON lines estoque.log gets
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(formatter.format(record))

    handler = Collect()
    estoque_log.addHandler(handler)
    try:
        post_webhook(loja, "orders/paid", order_payload(77, [(1, "LA", 2), (2, "LB", 3)]))
    finally:
        estoque_log.removeHandler(handler)
    changed = [json.loads(line) for line in lines if '"stock changed"' in line]
    assert len(changed) == 1
    line = changed[0]
    assert (line["loja_id"], line["origem"], line["referencia"]) == (loja.pk, "shopify_pedido_pago", "77")
    assert line["itens"] == [
        {"produto_id": a.pk, "sku": "LA", "quantidade": -2, "estoque_anterior": 9, "estoque_atual": 7},
        {"produto_id": b.pk, "sku": "LB", "quantidade": -3, "estoque_anterior": 8, "estoque_atual": 5},
    ]
