"""Stock changes through the ORM. Every stock change goes through `apply_stock_changes`, inside a
transaction: rows locked in primary-key order, deltas applied in SQL, an audit row per change,
alerts opened or resolved (as `alerts.alert_transition` decides). It returns the events the change
makes; the action that called it appends them, with its own, in one `record_events` call (one set
of events per action)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chegouhub.common.logging import estoque_log
from chegouhub.notify import services as notify
from chegouhub.realtime.events import NewEvent, record_events

from .alerts import alert_transition
from .models import Alerta, AlertaPrioridade, AlertaStatus, AlertaTipo, Mapeamento, Movimentacao, Origem, Produto


@dataclass(frozen=True)
class StockChange:
    produto: Produto  # as locked, before the change
    quantidade: int
    estoque_anterior: int
    estoque_atual: int
    movimentacao: Movimentacao | None


@dataclass
class StockResult:
    changes: list[StockChange] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)  # to be recorded by the calling action


def apply_stock_changes(
    *, deposito_id: int, loja_id: int | None, deltas: dict[int, int], origem: str, referencia: str = "",
    motivo: str = "",
) -> StockResult:
    """Apply signed deltas {produto_id: delta} of one depósito; `loja_id` is where the change happened
    (None: a manual change). Caller holds the transaction and records the returned events."""
    deltas = {pid: d for pid, d in deltas.items() if d}
    if not deltas:
        return StockResult()
    # Stable lock order: two webhooks touching the same products can never deadlock.
    locked = list(
        Produto.objects.select_for_update().filter(deposito_id=deposito_id, pk__in=deltas.keys()).order_by("pk")
    )
    changes: list[StockChange] = []
    movements: list[Movimentacao] = []
    for produto in locked:
        delta = deltas[produto.pk]
        Produto.objects.filter(pk=produto.pk).update(estoque_atual=F("estoque_atual") + delta, updated_at=timezone.now())
        before = produto.estoque_atual
        movements.append(
            Movimentacao(
                produto_id=produto.pk,
                loja_id=loja_id or produto.loja_id,  # a manual change: the produto's own loja
                quantidade=delta,
                estoque_anterior=before,
                estoque_atual=before + delta,
                origem=origem,
                referencia=referencia,
                motivo=motivo,
            )
        )
    Movimentacao.objects.bulk_create(movements)
    for produto, movement in zip(locked, movements):
        changes.append(
            StockChange(
                produto=produto,
                quantidade=movement.quantidade,
                estoque_anterior=movement.estoque_anterior,
                estoque_atual=movement.estoque_atual,
                movimentacao=movement,
            )
        )
    events = [stock_event(loja_id, c, origem, deposito_id) for c in changes]
    events += _update_alerts(loja_id, deposito_id, changes)
    log_stock_changes(loja_id, changes, origem, referencia)
    return StockResult(changes, events)


def log_stock_changes(loja_id: int, changes: list[StockChange], origem: str, referencia: str) -> None:
    """One `estoque.log` line per stock operation, its products listed (the rows are in Movimentacao).

    One line rather than one per product: a line costs about 0.1 ms, and a flash sale writes
    thousands a second.
    """
    if not changes:
        return
    estoque_log.info(
        "stock changed",
        extra={
            "loja_id": loja_id,
            "origem": origem,
            "referencia": referencia,
            "itens": [
                {
                    "produto_id": c.produto.pk,
                    "sku": c.produto.sku,
                    "quantidade": c.quantidade,
                    "estoque_anterior": c.estoque_anterior,
                    "estoque_atual": c.estoque_atual,
                }
                for c in changes
            ],
        },
    )


def stock_event(loja_id: int | None, c: StockChange, origem: str, deposito_id: int) -> NewEvent:
    return NewEvent(
        type="estoque_atualizado",
        loja_id=loja_id,
        deposito_id=deposito_id,
        data={
            "loja_id": loja_id,
            "deposito_id": deposito_id,
            "produto_id": c.produto.pk,
            "sku": c.produto.sku,
            "estoque_anterior": c.estoque_anterior,
            "estoque_atual": c.estoque_atual,
            "quantidade": c.quantidade,
            "origem": origem,
        },
    )


def _update_alerts(loja_id: int | None, deposito_id: int, changes: list[StockChange]) -> list[NewEvent]:
    """Open or resolve alerts for the new stock levels (products are locked by the caller)."""
    if not changes:
        return []
    active: dict[tuple[int, str], Alerta] = {
        (a.produto_id, a.tipo): a
        for a in Alerta.objects.filter(produto_id__in=[c.produto.pk for c in changes], status=AlertaStatus.ATIVO)
    }
    to_open: list[Alerta] = []
    to_resolve: list[int] = []
    events: list[NewEvent] = []
    for c in changes:
        produto = c.produto
        tipos = frozenset(tipo for pid, tipo in active if pid == produto.pk)
        transition = alert_transition(before=c.estoque_anterior, after=c.estoque_atual,
                                      minimo=produto.estoque_minimo, active=tipos)
        if transition.reached_zero:
            events.append(zero_event(loja_id, produto, c.estoque_atual, deposito_id))
        # An alert belongs to the loja where it happened, or to the produto's own (a manual change).
        to_open += [_new_alert(loja_id or produto.loja_id, produto, tipo, c.estoque_atual)
                    for tipo in transition.open]
        to_resolve += [active[(produto.pk, tipo)].pk for tipo in transition.resolve]
    if to_resolve:
        Alerta.objects.filter(pk__in=to_resolve).update(status=AlertaStatus.RESOLVIDO, resolvido_em=timezone.now())
    if to_open:
        Alerta.objects.bulk_create(to_open)
        by_loja: dict[int, list[Alerta]] = {}
        for alerta in to_open:
            by_loja.setdefault(alerta.loja_id, []).append(alerta)
        for alert_loja, alertas in by_loja.items():  # Slack/Discord outbox, sent after commit
            notify.stock_alerts_opened(alert_loja, alertas)
        for alerta in to_open:
            estoque_log.warning(
                "stock alert opened",
                extra={"loja_id": loja_id, "produto_id": alerta.produto_id, "tipo": alerta.tipo,
                       "estoque_atual": alerta.estoque_atual},
            )
            events.append(
                NewEvent(
                    type="alerta_estoque_gerado",
                    loja_id=loja_id,
                    deposito_id=deposito_id,
                    priority=alerta.prioridade,
                    data={
                        "loja_id": loja_id,
                        "deposito_id": deposito_id,
                        "alerta_id": alerta.pk,
                        "produto_id": alerta.produto_id,
                        "sku": alerta.produto.sku,
                        "tipo": alerta.tipo,
                        "prioridade": alerta.prioridade,
                        "estoque_atual": alerta.estoque_atual,
                        "estoque_minimo": alerta.estoque_minimo,
                    },
                )
            )
    return events


def zero_event(loja_id: int | None, produto: Produto, after: int, deposito_id: int) -> NewEvent:
    return NewEvent(
        type="produto_estoque_zero",
        loja_id=loja_id,
        deposito_id=deposito_id,
        priority="critica",
        data={"loja_id": loja_id, "deposito_id": deposito_id, "produto_id": produto.pk, "sku": produto.sku, "nome": produto.nome,
              "estoque_atual": after},
    )


def _new_alert(loja_id: int, produto: Produto, tipo: str, after: int) -> Alerta:
    prioridade = AlertaPrioridade.CRITICA if tipo == AlertaTipo.ESTOQUE_ZERADO else AlertaPrioridade.ALTA
    return Alerta(
        loja_id=loja_id,
        produto=produto,
        tipo=tipo,
        prioridade=prioridade,
        estoque_atual=after,
        estoque_minimo=produto.estoque_minimo,
    )


def adjust_stock(*, produto: Produto, quantidade: int, motivo: str, origem: str = Origem.MANUAL) -> Movimentacao:
    """A manual stock change (the movement endpoint)."""
    if not quantidade:
        raise ValueError("quantidade must be non-zero")
    with transaction.atomic():
        result = apply_stock_changes(deposito_id=produto.deposito_id, loja_id=None,
                                     deltas={produto.pk: quantidade}, origem=origem, motivo=motivo)
        record_events(result.events)
    return result.changes[0].movimentacao


def create_produto(*, loja, sku: str, nome: str, estoque_minimo: int = 0, estoque_inicial: int = 0) -> Produto:
    """A new produto in the loja's depósito; a non-zero initial stock is recorded as an `inicial` movement."""
    with transaction.atomic():
        produto = Produto.objects.create(loja=loja, deposito_id=loja.deposito_id, sku=sku, nome=nome,
                                         estoque_minimo=estoque_minimo)
        if estoque_inicial:
            result = apply_stock_changes(deposito_id=loja.deposito_id, loja_id=None,
                                         deltas={produto.pk: estoque_inicial}, origem=Origem.INICIAL)
            record_events(result.events)
            produto.refresh_from_db(fields=["estoque_atual"])
    return produto


def resolve_skus(*, loja_id: int, deposito_id: int, skus: set[str]) -> dict[str, int]:
    """Shopify SKU -> produto id: the receiving loja's mapeamento first, then an equal sku among
    the depósito's produtos (CONTRACT 10)."""
    if not skus:
        return {}
    found = dict(
        Produto.objects.filter(deposito_id=deposito_id, sku__in=skus).values_list("sku", "pk")
    )
    found.update(
        Mapeamento.objects.filter(loja_id=loja_id, shopify_sku__in=skus).values_list("shopify_sku", "produto_id")
    )
    return found
