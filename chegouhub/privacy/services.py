"""Privacy: Shopify's compliance webhooks (CONTRACT 13) and the retention of raw webhook bodies.

The receiver only records a request (`record_request`, inside the delivery's transaction, so the
answer is immediate); the webhook worker claims it with a conditional UPDATE and does the work
(`run_pending_requests`), retrying failures with backoff.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chegouhub.common.logging import webhook_log
from chegouhub.inventory.models import Movimentacao
from chegouhub.realtime.events import NewEvent, record_events
from chegouhub.shopify.models import DeliveryStatus, OrderLedger, WebhookDelivery
from chegouhub.shopify.services import ProcessResult, parse_payload
from chegouhub.stores.models import Loja, WebhookStatus, loja_deleting

from .models import PedidoPrivacidade, StatusPedido, TipoPedido
from .redaction import Customer, names_customer, personal_fields, redact_payload

TIPO_BY_TOPIC = {
    "customers/data_request": TipoPedido.DATA_REQUEST,
    "customers/redact": TipoPedido.CUSTOMER_REDACT,
    "shop/redact": TipoPedido.SHOP_REDACT,
}
MAX_ATTEMPTS = 10
# Bodies still owed a retry (or an operator's replay) keep what the retry needs.
UNRESOLVED = (DeliveryStatus.FAILED, DeliveryStatus.PROCESSING, DeliveryStatus.DEAD)


# --- receiving ----------------------------------------------------------------------------------


def _order_ids(values) -> list[int]:
    return sorted({v for v in values or [] if isinstance(v, int) and not isinstance(v, bool)})


def request_parameters(topic: str, payload: dict) -> dict:
    customer = Customer.from_payload(payload)
    params = {"customer_id": customer.id, "email": customer.email, "phone": customer.phone}
    if topic == "customers/data_request":
        params["pedidos"] = _order_ids(payload.get("orders_requested"))
        data_request = payload.get("data_request")
        params["data_request_id"] = data_request.get("id") if isinstance(data_request, dict) else None
    elif topic == "customers/redact":
        params["pedidos"] = _order_ids(payload.get("orders_to_redact"))
    else:
        params = {}
    return params


def request_key(topic: str, params: dict) -> str:
    """One request however often Shopify delivers it: its data_request id, or who and which orders."""
    if topic == "shop/redact":
        return "loja"
    if topic == "customers/data_request" and params.get("data_request_id") is not None:
        return f"dr:{params['data_request_id']}"[:255]
    # A digest of who, never the customer's id or e-mail: the row is kept as the record of what was
    # done, after its parametros are emptied (docs/privacy.md).
    who = str(params.get("customer_id") or params.get("email") or "")
    digest = hashlib.sha256(who.encode()).hexdigest() if who else ""
    return f"c:{digest}:{','.join(map(str, params.get('pedidos', [])))}"[:255]


def record_request(*, delivery: WebhookDelivery, payload: dict) -> ProcessResult:
    """A compliance topic's handler: the request is recorded for the worker, nothing else now."""
    params = request_parameters(delivery.topic, payload)
    key = request_key(delivery.topic, params)
    if delivery.topic == "shop/redact":
        key = _shop_redact_key(delivery.loja_id, delivery.webhook_id)
    try:
        with transaction.atomic():
            PedidoPrivacidade.objects.create(
                loja_id=delivery.loja_id, tipo=TIPO_BY_TOPIC[delivery.topic], chave=key,
                webhook_id=delivery.webhook_id, parametros=params, proxima_tentativa_em=timezone.now(),
            )
    except IntegrityError:  # the same request under a new webhook id: already recorded (or done)
        webhook_log.info("privacy request already recorded", extra={"loja_id": delivery.loja_id,
                                                                    "topic": delivery.topic})
    # The delivery's own body names the customer; the request row holds what the work needs.
    delivery.body = b""
    delivery.save(update_fields=["body"])
    return ProcessResult(status=DeliveryStatus.PROCESSED)


def _shop_redact_key(loja_id: int, webhook_id: str) -> str:
    """shop/redact again: the same request while it is not done, or once done while the loja has no
    credentials (a redelivery: nothing new); a new one if the loja was connected again since
    (shop/redact empties both credentials), so a second uninstall's data go too."""
    previous = (PedidoPrivacidade.objects.filter(loja_id=loja_id, tipo=TipoPedido.SHOP_REDACT)
                .order_by("-id").only("chave", "status").first())
    if previous is None:
        return "loja"
    if previous.status == StatusPedido.DONE:
        loja = Loja.objects.only("access_token", "webhook_secret").get(pk=loja_id)  # encrypted: compared here
        if loja.access_token or loja.webhook_secret:
            return f"loja:{webhook_id}"[:255]
    return previous.chave


TOPIC_HANDLERS = {topic: record_request for topic in TIPO_BY_TOPIC}


# --- the worker's pass ----------------------------------------------------------------------------


def _due(now) -> Q:
    return (Q(status__in=[StatusPedido.PENDING, StatusPedido.FAILED], proxima_tentativa_em__lte=now)
            | Q(status=StatusPedido.RUNNING, reservado_ate__lt=now))


def claim_due_requests(*, limit: int = 20, lease_seconds: int = 300) -> list[int]:
    """Claim due requests atomically: two workers never do the same one."""
    now = timezone.now()
    claimed = []
    for pk in list(PedidoPrivacidade.objects.filter(_due(now)).order_by("id").values_list("pk", flat=True)[:limit]):
        won = PedidoPrivacidade.objects.filter(_due(now), pk=pk).update(
            status=StatusPedido.RUNNING, reservado_ate=now + timedelta(seconds=lease_seconds))
        if won:
            claimed.append(pk)
    return claimed


def run_pending_requests() -> dict[str, int]:
    counts: dict[str, int] = {}
    for pk in claim_due_requests():
        status = run_request(pk)
        counts[f"privacy_{status}"] = counts.get(f"privacy_{status}", 0) + 1
    return counts


def run_request(pk: int) -> str:
    """Do one claimed request; on failure it is retried with backoff (the error's type only is kept)."""
    request = PedidoPrivacidade.objects.select_related("loja").get(pk=pk)
    request.tentativas += 1
    try:
        with transaction.atomic():
            report = ACTIONS[request.tipo](loja=request.loja, params=request.parametros)
            request.relatorio = report
            request.parametros = {}  # done: the customer's e-mail and phone are not kept
            request.status = StatusPedido.DONE
            request.concluido_em = timezone.now()
            request.reservado_ate = None
            request.ultimo_erro = ""
            request.save()
    except DatabaseError:
        raise  # the worker waits; the lease expires and the request is taken again
    except Exception as exc:
        delay = min(30 * 2 ** (request.tentativas - 1), 3600)
        PedidoPrivacidade.objects.filter(pk=pk).update(
            status=StatusPedido.FAILED, tentativas=request.tentativas, reservado_ate=None,
            ultimo_erro=type(exc).__name__[:200],
            proxima_tentativa_em=None if request.tentativas >= MAX_ATTEMPTS else timezone.now() + timedelta(seconds=delay))
        webhook_log.error("privacy request failed", extra={"pedido_id": pk, "tipo": request.tipo,
                                                           "error_type": type(exc).__name__})
        return StatusPedido.FAILED
    webhook_log.info("privacy request done", extra={"pedido_id": pk, "tipo": request.tipo, "loja_id": request.loja_id})
    return StatusPedido.DONE


# --- customers/redact and customers/data_request ----------------------------------------------------


def _customer_deliveries(loja: Loja, customer: Customer, orders: list[int]):
    """The loja's stored deliveries about this customer: the listed orders', and any other naming
    them. Each is locked before it is read for good (a retry of it waits), and only those: the rest
    of the inbox stays free. Yields (delivery, parsed payload or None when not JSON)."""
    needles = [n.encode() for n in (customer.email, str(customer.id or "")) if n]
    candidates = (WebhookDelivery.objects.filter(loja=loja).exclude(body=b"")
                  .values_list("id", "order_id", "body").order_by("id"))
    for pk, order_id, body in candidates.iterator(chunk_size=200):
        listed = order_id is not None and order_id in orders
        if listed or any(n in bytes(body).lower() for n in needles):  # cheap test before parsing
            delivery = WebhookDelivery.objects.select_for_update().filter(pk=pk).exclude(body=b"").first()
            if delivery is None:
                continue
            payload = parse_payload(bytes(delivery.body))
            if payload is None or listed or _payload_order(delivery.topic, payload) in orders \
                    or names_customer(payload, customer):
                yield delivery, payload


def _payload_order(topic: str, payload: dict):
    return payload.get("order_id") if topic == "refunds/create" else payload.get("id")


def redact_customer(*, loja: Loja, params: dict) -> dict:
    customer = Customer(id=params.get("customer_id"), email=params.get("email") or "", phone=params.get("phone") or "")
    orders = params.get("pedidos", [])
    redacted = []
    for delivery, payload in _customer_deliveries(loja, customer, orders):
        if payload is None:
            delivery.body = b""  # not JSON: kept only for inspection, and it names the customer
        else:
            clean = redact_payload(delivery.topic, payload, customer)
            if clean == payload:
                continue
            delivery.body = _encode(clean)
        delivery.save(update_fields=["body"])
        redacted.append(delivery.pk)
    return {"pedidos": orders, "entregas_redigidas": redacted, "total_redigidas": len(redacted),
            "outros_registros": OTHER_RECORDS}


OTHER_RECORDS = ("Livro de pedidos, movimentações, alertas, vendas e eventos guardam só ids, SKUs, quantidades "
                 "e valores: nenhum dado pessoal.")


def report_customer_data(*, loja: Loja, params: dict) -> dict:
    """What is held about the customer: which deliveries, their dates and the personal fields they
    hold, by name only (never the values)."""
    customer = Customer(id=params.get("customer_id"), email=params.get("email") or "", phone=params.get("phone") or "")
    orders = params.get("pedidos", [])
    entregas = []
    for delivery, payload in _customer_deliveries(loja, customer, orders):
        entregas.append({
            "entrega_id": delivery.pk, "topico": delivery.topic, "order_id": delivery.order_id,
            "recebida_em": delivery.created_at.isoformat(),
            "campos_pessoais": sorted(set(personal_fields(payload))) if payload is not None else ["corpo"],
        })
    no_livro = sorted(OrderLedger.objects.filter(loja=loja, order_id__in=orders).values_list("order_id", flat=True))
    return {
        "pedidos_solicitados": orders,
        "pedidos_no_livro": no_livro,
        "entregas": entregas,
        "retencao_dias": settings.WEBHOOK_BODY_RETENTION_DAYS,
        "outros_registros": OTHER_RECORDS,
    }


def redact_late_copies(*, now=None) -> dict[str, int]:
    """Deliveries of a redacted customer's orders that arrived after the redaction (a late Shopify
    retry, a cancellation or a refund of that order): redacted too, for as long as bodies are kept."""
    since = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_BODY_RETENTION_DAYS)
    done = (PedidoPrivacidade.objects.filter(tipo=TipoPedido.CUSTOMER_REDACT, status=StatusPedido.DONE,
                                             concluido_em__gte=since).only("loja_id", "relatorio", "concluido_em"))
    redacted = 0
    for request in done.iterator():
        orders = request.relatorio.get("pedidos") or []
        if not orders:
            continue
        with transaction.atomic():
            late = (WebhookDelivery.objects.select_for_update().filter(
                loja_id=request.loja_id, order_id__in=orders, created_at__gt=request.concluido_em).exclude(body=b""))
            for delivery in late:
                payload = parse_payload(bytes(delivery.body))
                clean = b"" if payload is None else _encode(redact_payload(delivery.topic, payload))
                if clean != bytes(delivery.body):
                    delivery.body = clean
                    delivery.save(update_fields=["body"])
                    redacted += 1
    return {"late_copies_redacted": redacted} if redacted else {}


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- shop/redact ----------------------------------------------------------------------------------


def redact_shop(*, loja: Loja, params: dict) -> dict:
    """Credentials and stored bodies go; the stock history too unless the owner kept it. The loja row
    stays as an inactive tombstone (its requests' record and the owner's notification point at it)."""
    loja = Loja.objects.select_for_update().get(pk=loja.pk)
    deleted: dict[str, int] = {}
    if loja.manter_historico:
        deleted["corpos_apagados"] = WebhookDelivery.objects.filter(loja=loja).exclude(body=b"").update(body=b"")
    else:
        # Its stock history goes (CONTRACT 13), its lines in a depósito it shared too: the others'
        # ledger then misses them (the privacy duty first). What it shares with them stays theirs.
        deleted["inventory.movimentacao"], _ = Movimentacao.objects.filter(loja=loja).delete()
        loja_deleting.send(sender=Loja, loja=loja)
        # Hidden relations too (related_name="+": events, sales, envios...): all of them are its history.
        for related in Loja._meta.get_fields(include_hidden=True):
            if not (related.auto_created and not related.concrete and (related.one_to_many or related.one_to_one)):
                continue
            model = related.related_model
            if model is PedidoPrivacidade or related.field.name != "loja":
                continue
            count, _ = model._default_manager.filter(loja=loja).delete()
            deleted[model._meta.label_lower] = deleted.get(model._meta.label_lower, 0) + count
    loja.access_token = ""
    loja.webhook_secret = ""
    loja.slack_webhook_url = ""
    loja.discord_webhook_url = ""
    loja.ativo = False
    loja.webhook_status = WebhookStatus.REMOVED
    loja.webhook_checked_at = timezone.now()
    loja.save()
    detalhes = ("A Shopify pediu a remoção dos dados da loja: credenciais e corpos de webhooks apagados; "
                + ("o histórico de estoque foi mantido." if loja.manter_historico else "o histórico de estoque foi apagado."))
    record_events([NewEvent(type="webhook_status_change", loja_id=loja.pk, user_id=loja.owner_id, priority="alta",
                            data={"loja_id": loja.pk, "shop_domain": loja.shop_domain,
                                  "status": WebhookStatus.REMOVED, "detalhes": detalhes})])
    return {"historico_mantido": loja.manter_historico, "apagados": {k: v for k, v in deleted.items() if v}}


ACTIONS = {
    TipoPedido.DATA_REQUEST: report_customer_data,
    TipoPedido.CUSTOMER_REDACT: redact_customer,
    TipoPedido.SHOP_REDACT: redact_shop,
}


# --- body retention -------------------------------------------------------------------------------


def purge_expired_bodies(*, now=None) -> dict[str, int]:
    """Empty raw bodies older than WEBHOOK_BODY_RETENTION_DAYS (the delivery row, its status, order
    id and counts stay); bodies still owed a retry or a replay are kept until resolved."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_BODY_RETENTION_DAYS)
    purged = (WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(status__in=UNRESOLVED)
              .exclude(body=b"").update(body=b""))
    if purged:
        webhook_log.info("expired webhook bodies purged", extra={"count": purged})
    return {"bodies_purged": purged} if purged else {}
