from __future__ import annotations

from django.db.models import QuerySet

from .models import PedidoPrivacidade, StatusPedido, TipoPedido

TIPO_LABELS = {
    TipoPedido.DATA_REQUEST: "Dados do cliente (customers/data_request)",
    TipoPedido.CUSTOMER_REDACT: "Apagar cliente (customers/redact)",
    TipoPedido.SHOP_REDACT: "Apagar loja (shop/redact)",
}
STATUS_LABELS = {StatusPedido.PENDING: "Na fila", StatusPedido.RUNNING: "Executando",
                 StatusPedido.DONE: "Concluído", StatusPedido.FAILED: "Falhou; será repetido"}


def requests_for_user(user, *, loja_id: int | None = None) -> QuerySet[PedidoPrivacidade]:
    """A user's own lojas' privacy requests, newest first."""
    qs = PedidoPrivacidade.objects.filter(loja__owner_id=user.pk).order_by("-id")
    return qs.filter(loja_id=loja_id) if loja_id is not None else qs


def report_summary(pedido: PedidoPrivacidade) -> str:
    """One line for people: what was done or found (never a customer's data: the report has none)."""
    r = pedido.relatorio or {}
    if pedido.status != StatusPedido.DONE:
        return STATUS_LABELS.get(pedido.status, pedido.status)
    if pedido.tipo == TipoPedido.CUSTOMER_REDACT:
        return (f"{r.get('total_redigidas', 0)} cópia(s) redigida(s); pedidos "
                f"{', '.join(map(str, r.get('pedidos', []))) or 'nenhum listado'}.")
    if pedido.tipo == TipoPedido.DATA_REQUEST:
        fields = sorted({f for e in r.get("entregas", []) for f in e.get("campos_pessoais", [])})
        return (f"{len(r.get('entregas', []))} entrega(s) guardada(s) com dados pessoais"
                + (f" ({', '.join(fields[:8])}{'…' if len(fields) > 8 else ''})" if fields else "") + ".")
    return "Credenciais e corpos apagados; histórico " + ("mantido." if r.get("historico_mantido") else "apagado.")


def dashboard_requests(user, *, limit: int = 10) -> list[dict]:
    """The dashboard's privacy section: the latest requests of the user's lojas."""
    return [
        {"id": p.pk, "loja": p.loja.nome, "tipo": TIPO_LABELS.get(p.tipo, p.tipo), "status": p.status,
         "recebido_em": p.recebido_em, "concluido_em": p.concluido_em, "resumo": report_summary(p)}
        for p in requests_for_user(user).select_related("loja")[:limit]
    ]
