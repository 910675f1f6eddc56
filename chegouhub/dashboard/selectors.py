"""What the dashboard's pages read to render their first frame (the live updates come from the event log)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import F, Q

from chegouhub.inventory.models import Alerta, AlertaStatus, Produto
from chegouhub.realtime.events import serialize_event
from chegouhub.realtime.models import Stream
from chegouhub.realtime.selectors import visible_events
from chegouhub.stores.models import Loja
from chegouhub.stores.selectors import lojas_for_user

RECENT_SALES = 20
PRIORITY_RANK = {"critica": 0, "alta": 1}
PAGE_SIZE = 50
SITUACOES = {"baixo", "zerado", "ok"}


@dataclass
class Snapshot:
    lojas: list[Loja]
    loja: Loja | None
    cursor: int = 0
    alertas: list[Alerta] = field(default_factory=list)
    vendas: list[dict] = field(default_factory=list)


def dashboard_snapshot(*, user, loja_id: int | None, alertas: bool = False, vendas: bool = False) -> Snapshot:
    """A page's initial state for one loja of the user: what every page needs, plus what it asks for.

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
    if alertas:
        rows = (Alerta.objects.filter(produto__deposito_id=loja.deposito_id, status=AlertaStatus.ATIVO)
                .select_related("produto").order_by("-id")[:200])
        snap.alertas = sorted(rows, key=lambda a: (PRIORITY_RANK.get(a.prioridade, 9), -a.pk))
    if vendas:
        sales = (
            visible_events(user_id=user.pk, loja_id=loja.pk, stream=Stream.ESTOQUE)
            .filter(type="venda_shopify_processada", id__lte=snap.cursor)
            .order_by("-id")[:RECENT_SALES]
        )
        snap.vendas = [serialize_event(e) for e in sales]
    return snap


def produtos_page(*, loja: Loja, busca: str = "", situacao: str = "", pagina: int = 1):
    """One page of the loja's produtos, searched and filtered in the database (fast at 20,000 variants)."""
    qs = Produto.objects.filter(deposito_id=loja.deposito_id)
    if busca:
        qs = qs.filter(Q(sku__icontains=busca) | Q(nome__icontains=busca))
    if situacao == "zerado":
        qs = qs.filter(estoque_atual__lte=0)
    elif situacao == "baixo":
        qs = qs.filter(estoque_atual__gt=0, estoque_atual__lte=F("estoque_minimo"))
    elif situacao == "ok":
        qs = qs.filter(estoque_atual__gt=F("estoque_minimo"))
    paginator = Paginator(qs.order_by("nome", "id").only("id", "sku", "nome", "estoque_atual", "estoque_minimo"),
                          PAGE_SIZE)
    return paginator.get_page(pagina)


def produto_detail(*, user, produto_id: int):
    """A produto of one of the user's depósitos, with its active alerts and the lojas that sell it."""
    produto = (Produto.objects.filter(pk=produto_id, deposito__owner_id=user.pk)
               .select_related("deposito").first())
    if produto is None:
        return None
    produto.alertas_ativos = list(Alerta.objects.filter(produto=produto, status=AlertaStatus.ATIVO).order_by("-id"))
    produto.lojas_do_deposito = list(Loja.objects.filter(deposito_id=produto.deposito_id).order_by("nome", "id"))
    for loja in produto.lojas_do_deposito:
        loja.disponivel = max(produto.estoque_atual - loja.estoque_reserva, 0)
    return produto
