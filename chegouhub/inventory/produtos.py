"""Creating and editing produtos (the API and the dashboard's workbench), told to every dashboard.

`produto_atualizado` (estoque stream) carries what a row shows, so an open dashboard adds or
updates the row without asking. Stock itself still changes only through movements.
"""

from __future__ import annotations

from django.db import transaction

from chegouhub.realtime.events import EVENT_SCHEMAS, NewEvent, record_events
from chegouhub.realtime.models import Stream

from .models import Produto
from .services import create_produto

EDITABLE = ("sku", "nome", "estoque_minimo")

# Registered by the module that records it, until chegouhub/realtime/events.py lists it.
EVENT_SCHEMAS.setdefault("produto_atualizado", (Stream.ESTOQUE, frozenset(
    {"loja_id", "produto_id", "sku", "nome", "estoque_atual", "estoque_minimo"})))


def produto_event(produto: Produto) -> NewEvent:
    return NewEvent(type="produto_atualizado", loja_id=produto.loja_id, deposito_id=produto.deposito_id, data={
        "loja_id": produto.loja_id, "produto_id": produto.pk, "sku": produto.sku, "nome": produto.nome,
        "estoque_atual": produto.estoque_atual, "estoque_minimo": produto.estoque_minimo})


def add_produto(*, loja, sku: str, nome: str, estoque_minimo: int = 0, estoque_inicial: int = 0) -> Produto:
    """A new produto (an `inicial` movement for a non-zero stock), announced."""
    with transaction.atomic():
        produto = create_produto(loja=loja, sku=sku, nome=nome, estoque_minimo=estoque_minimo,
                                 estoque_inicial=estoque_inicial)
        record_events([produto_event(produto)])
    return produto


def edit_produto(*, produto: Produto, **changes) -> Produto:
    """SKU, name and minimum of a produto, announced. (Its stock moves only through movements.)"""
    fields = [name for name in EDITABLE if name in changes]
    with transaction.atomic():
        for name in fields:
            setattr(produto, name, changes[name])
        if fields:
            produto.save(update_fields=[*fields, "updated_at"])
            record_events([produto_event(produto)])
    return produto
