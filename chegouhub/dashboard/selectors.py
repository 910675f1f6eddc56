"""What the dashboard reads to render its first frame (the live updates come from the event log)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chegouhub.inventory.models import Alerta, AlertaStatus, Produto
from chegouhub.realtime.events import serialize_event
from chegouhub.realtime.models import Stream
from chegouhub.realtime.selectors import visible_events
from chegouhub.stores.models import Loja
from chegouhub.stores.selectors import lojas_for_user

RECENT_SALES = 20
PRIORITY_RANK = {"critica": 0, "alta": 1}


@dataclass
class Snapshot:
    lojas: list[Loja]
    loja: Loja | None
    cursor: int = 0
    produtos: list[Produto] = field(default_factory=list)
    alertas: list[Alerta] = field(default_factory=list)
    vendas: list[dict] = field(default_factory=list)


def dashboard_snapshot(*, user, loja_id: int | None) -> Snapshot:
    """The page's initial state for one loja of the user.

    The event cursor is read *before* the rows, so any change that lands while the page renders
    has an id above it and is replayed by `resume` (or polling): nothing falls into the gap.
    """
    lojas = list(lojas_for_user(user).order_by("nome", "id"))
    loja = next((l for l in lojas if l.pk == loja_id), None) if loja_id is not None else None
    if loja is None and lojas:
        loja = next((l for l in lojas if l.ativo), lojas[0])
    snap = Snapshot(lojas=lojas, loja=loja)
    if loja is None:
        return snap
    last = visible_events(user_id=user.pk, loja_id=loja.pk).order_by("-id").values_list("id", flat=True).first()
    snap.cursor = last or 0
    snap.produtos = list(Produto.objects.filter(deposito_id=loja.deposito_id).order_by("nome", "id"))
    alertas = Alerta.objects.filter(produto__deposito_id=loja.deposito_id, status=AlertaStatus.ATIVO).select_related("produto").order_by("-id")
    snap.alertas = sorted(alertas, key=lambda a: (PRIORITY_RANK.get(a.prioridade, 9), -a.pk))
    sales = (
        visible_events(user_id=user.pk, loja_id=loja.pk, stream=Stream.ESTOQUE)
        .filter(type="venda_shopify_processada", id__lte=snap.cursor)
        .order_by("-id")[:RECENT_SALES]
    )
    snap.vendas = [serialize_event(e) for e in sales]
    return snap
