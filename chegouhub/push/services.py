"""Web Push: inscrições, the matcher (event log -> outbox) and the sender (outbox -> push services).

Why a separate worker reading the durable event log (`python manage.py send_push`): a webhook's
transaction and its answer never wait for a push service, and nothing is lost when one is down or
the worker is stopped: the log is the source, the worker's cursor (`PushCursor`) says how far it
got, and what it matched is in the outbox (`PushMessage`) until sent.

1. match: under the cursor row's lock (`SELECT ... FOR UPDATE`; on SQLite the write lock every
   transaction takes at BEGIN), read the events after the cursor, match them against the
   inscrições (stock events reach the loja's owner, notifications their user; `lojas` and `tipos`
   filters), collapse them into at most PUSH_MAX_PER_PASS notifications per inscrição, write the
   outbox rows and move the cursor, in one transaction: several workers never match an event twice.
2. deliver: claim due outbox rows (conditional UPDATE with a lease), encrypt and send them
   (aes128gcm, VAPID) through a small thread pool, and record each answer: 2xx sent; 404/410
   the browser dropped the subscription, so the inscrição is removed; 429/5xx/network errors
   retried with backoff, honouring Retry-After; anything else dead (a redirect too: never followed).
   An endpoint is judged again before each send (endpoints.py): one that now points inside is
   dead, never sent.

Endpoints are capability URLs and `auth` is a secret: neither is ever logged.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from pywebpush import WebPusher

from chegouhub.inventory.models import Produto
from chegouhub.realtime.models import Event
from chegouhub.stores.models import Loja

from . import metrics, vapid
from .endpoints import EndpointRefused, EndpointUnresolved, check_endpoint, push_session
from .models import Inscricao, PushCursor, PushMessage, PushStatus

log = logging.getLogger("chegouhub.push")

CURSOR_NAME = "default"

# What an inscrição can ask for (wire names). `alerta_estoque_gerado` means the critical alerts
# (estoque zerado); the `alta` ones (estoque baixo) are their own tipo, off by default.
TIPOS = ("produto_estoque_zero", "alerta_estoque_gerado", "alerta_estoque_baixo", "webhook_status_change",
         "system_notification")
DEFAULT_TIPOS = ["produto_estoque_zero", "alerta_estoque_gerado", "webhook_status_change"]
EVENT_TYPES = ("produto_estoque_zero", "alerta_estoque_gerado", "webhook_status_change", "loja_reconectar",
               "system_notification")

# Notification kinds, in the order they are kept when a pass has more than fit.
KIND_ZERO, KIND_WEBHOOK, KIND_BAIXO, KIND_SISTEMA, KIND_RESUMO = "estoque_zero", "webhook", "estoque_baixo", \
    "sistema", "resumo"
KIND_RECONECTAR = "reconectar"  # Shopify refused the loja's refresh token: nothing syncs until it reconnects
KIND_ORDER = {KIND_ZERO: 0, KIND_RECONECTAR: 1, KIND_WEBHOOK: 1, KIND_BAIXO: 2, KIND_SISTEMA: 3}
URGENCY = {KIND_ZERO: "high", KIND_RECONECTAR: "high", KIND_WEBHOOK: "high", KIND_RESUMO: "high",
           KIND_BAIXO: "normal", KIND_SISTEMA: "normal"}
WEBHOOK_STATUS_TEXT = {"nao_configurado": "Webhooks não configurados", "configurado": "Webhooks configurados",
                       "incompleto": "Webhooks incompletos", "removido": "Webhooks removidos",
                       "desinstalado": "App desinstalado", "erro": "Erro nos webhooks"}
NAMES_SHOWN = 3
BODY_MAX = 240


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- inscrições ---------------------------------------------------------------------------------


def endpoint_digest(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def subscribe(*, user, endpoint: str, p256dh: str, auth: str, lojas: list[Loja], tipos: list[str]
              ) -> tuple[Inscricao, bool]:
    """Create or update the user's inscrição for this browser; returns (inscrição, created).

    A browser has one push subscription: if another user had it (someone else logged in on this
    device before), theirs is removed, so their notifications stop appearing here.
    """
    check_endpoint(endpoint)
    digest = endpoint_digest(endpoint)
    with transaction.atomic():
        Inscricao.objects.filter(endpoint_sha256=digest).exclude(user=user).delete()
        fields = {"endpoint": endpoint, "p256dh": p256dh, "auth": auth, "tipos": list(tipos or DEFAULT_TIPOS)}
        inscricao, created = Inscricao.objects.update_or_create(
            user=user, endpoint_sha256=digest, defaults=fields,
            # It hears of events from now on, not of the log's history.
            create_defaults={**fields, "desde_evento_id": Event.objects.aggregate(m=Max("id"))["m"] or 0},
        )
        inscricao.lojas.set(lojas)
    return inscricao, created


def unsubscribe(*, inscricao: Inscricao) -> None:
    inscricao.delete()


# --- matching: event log -> outbox --------------------------------------------------------------


@dataclass
class Notification:
    kind: str
    loja_id: int | None
    event_ids: list[int] = field(default_factory=list)
    produtos: dict[int, dict] = field(default_factory=dict)  # produto_id -> {"nome","sku"}, first seen first
    messages: list[str] = field(default_factory=list)
    status: str = ""


def _event_tipo(event: Event) -> str | None:
    """The inscrição tipo an event answers to, or None if it never becomes a push."""
    if event.type == "alerta_estoque_gerado":
        return "alerta_estoque_gerado" if event.data.get("prioridade") == "critica" else "alerta_estoque_baixo"
    if event.type == "loja_reconectar":  # the loja's connection to Shopify changed: asked for as such
        return "webhook_status_change"
    return event.type if event.type in EVENT_TYPES else None


def _event_kind(event: Event) -> str:
    if event.type == "produto_estoque_zero":
        return KIND_ZERO
    if event.type == "alerta_estoque_gerado":
        return KIND_ZERO if event.data.get("prioridade") == "critica" else KIND_BAIXO
    if event.type == "webhook_status_change":
        return KIND_WEBHOOK
    if event.type == "loja_reconectar":
        return KIND_RECONECTAR
    return KIND_SISTEMA


def _event_loja(event: Event) -> int | None:
    # A manual stock change happened in no loja (CONTRACT 10): it is told as its produto's own loja's.
    return event.loja_id or event.data.get("loja_id") or getattr(event, "produto_loja_id", None)


def _attribute_manual_changes(events: list[Event]) -> None:
    unattributed = {e.data["produto_id"] for e in events
                    if not (e.loja_id or e.data.get("loja_id")) and e.data.get("produto_id")}
    if unattributed:
        home = dict(Produto.objects.filter(pk__in=unattributed).values_list("pk", "loja_id"))
        for e in events:
            e.produto_loja_id = home.get(e.data.get("produto_id"))


def _readable(events: list[Event], after: int, now) -> list[Event]:
    """The events that may be handled now, in id order.

    Ids are allocated at insert and transactions commit in any order across lojas, so an id
    missing below a visible one may belong to a transaction still running. Stop at the first
    hole unless what follows it is older than PUSH_SETTLE_SECONDS (then the hole is a rollback).
    """
    settle = timedelta(seconds=_setting("PUSH_SETTLE_SECONDS", 5.0))
    readable, expected = [], after + 1
    for event in events:
        if event.id != expected and event.created_at > now - settle:
            break
        readable.append(event)
        expected = event.id + 1
    return readable


def _starting_point() -> int:
    """Where a new cursor starts: no inscrição hears of events older than itself."""
    first = Inscricao.objects.aggregate(m=Min("desde_evento_id"))["m"]
    if first is not None:
        return first
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def match_events(*, batch: int = 2000) -> tuple[list[int], int]:
    """One matching step: (the new outbox rows' ids, how many events it handled)."""
    with transaction.atomic():
        cursor = PushCursor.objects.select_for_update().filter(name=CURSOR_NAME).first()
        if cursor is None:
            cursor, _ = PushCursor.objects.get_or_create(name=CURSOR_NAME,
                                                         defaults={"last_event_id": _starting_point()})
            cursor = PushCursor.objects.select_for_update().get(name=CURSOR_NAME)
        after = cursor.last_event_id
        # The window's ids first (cheap); the data only of the events that can become a push.
        window = [SimpleNamespace(id=i, type=t, created_at=c) for i, t, c in
                  Event.objects.filter(id__gt=after).order_by("id").values_list("id", "type", "created_at")[:batch]]
        readable = _readable(window, after, timezone.now())
        if not readable:
            return [], 0
        events = list(Event.objects.filter(id__gt=after, id__lte=readable[-1].id, type__in=EVENT_TYPES).order_by("id"))
        rows = _messages_for(events)
        created = PushMessage.objects.bulk_create(rows) if rows else []
        cursor.last_event_id = readable[-1].id
        cursor.save(update_fields=["last_event_id", "updated_at"])
    return [row.pk for row in created if row.pk], len(readable)


def _messages_for(events: list[Event]) -> list[PushMessage]:
    pushable = [e for e in events if _event_tipo(e)]
    if not pushable:
        return []
    _attribute_manual_changes(pushable)
    loja_ids = {lid for e in pushable if (lid := _event_loja(e))}
    lojas = {row["id"]: row for row in Loja.objects.filter(pk__in=loja_ids).values("id", "nome", "owner_id")}
    users = set()
    for e in pushable:
        owner = lojas.get(_event_loja(e), {}).get("owner_id")
        users.add(e.user_id if e.user_id else owner)
    users.discard(None)
    inscricoes = list(Inscricao.objects.filter(user_id__in=users).prefetch_related("lojas"))
    if not inscricoes:
        return []
    nomes = _produto_names(pushable)
    rows = []
    for inscricao in inscricoes:
        allowed = {loja.pk for loja in inscricao.lojas.all()}
        groups: dict[tuple[str, int | None], Notification] = {}
        for e in pushable:
            if e.id <= inscricao.desde_evento_id or _event_tipo(e) not in inscricao.tipos:
                continue
            loja_id = _event_loja(e)
            recipient = e.user_id if e.user_id else lojas.get(loja_id, {}).get("owner_id")
            if recipient != inscricao.user_id or (allowed and loja_id is not None and loja_id not in allowed):
                continue
            _fold(groups, e, nomes)
        for note in _collapse(list(groups.values())):
            rows.append(_message(inscricao, note, lojas))
    return rows


def _produto_names(events: list[Event]) -> dict[int, str]:
    """Alerts carry the sku only: the produtos' names, in one query."""
    known = {e.data.get("produto_id"): e.data.get("nome") for e in events if e.type == "produto_estoque_zero"}
    missing = {e.data.get("produto_id") for e in events if e.type == "alerta_estoque_gerado"} - set(known)
    missing.discard(None)
    if missing:
        known.update(Produto.objects.filter(pk__in=missing).values_list("id", "nome"))
    return known


def _fold(groups: dict, event: Event, nomes: dict[int, str]) -> None:
    kind = _event_kind(event)
    loja_id = _event_loja(event)
    key = (kind, loja_id if kind != KIND_SISTEMA else event.id)
    note = groups.setdefault(key, Notification(kind=kind, loja_id=loja_id))
    note.event_ids.append(event.id)
    data = event.data
    if kind in (KIND_ZERO, KIND_BAIXO):
        pid = data.get("produto_id")
        if pid not in note.produtos:  # the zero event and its critical alert are one produto
            note.produtos[pid] = {"nome": data.get("nome") or nomes.get(pid) or data.get("sku", ""),
                                  "sku": data.get("sku", "")}
    elif kind in (KIND_WEBHOOK, KIND_RECONECTAR):
        note.status = data.get("status", "")
        note.messages.append(str(data.get("detalhes") or ""))
    else:
        note.messages.append(str(data.get("message") or ""))


def _collapse(notes: list[Notification]) -> list[Notification]:
    """At most PUSH_MAX_PER_PASS per inscrição: the most urgent kept, the rest in one summary."""
    limit = max(1, _setting("PUSH_MAX_PER_PASS", 3))
    notes.sort(key=lambda n: (KIND_ORDER[n.kind], n.event_ids[0]))
    if len(notes) <= limit:
        return notes
    kept, rest = notes[: limit - 1], notes[limit - 1:]
    summary = Notification(kind=KIND_RESUMO, loja_id=None)
    summary.event_ids = sorted(i for n in rest for i in n.event_ids)
    summary.messages = [str(len(rest))]
    summary.produtos = {pid: p for n in rest for pid, p in n.produtos.items()}
    return kept + [summary]


def _names(produtos: dict[int, dict]) -> str:
    nomes = [p["nome"] for p in produtos.values()]
    shown = ", ".join(nomes[:NAMES_SHOWN])
    if len(nomes) > NAMES_SHOWN:
        return f"{shown} e mais {len(nomes) - NAMES_SHOWN}"
    if len(nomes) > 1:
        return f"{', '.join(nomes[:-1])} e {nomes[-1]}"
    return shown


def dashboard_url(*, loja_id: int | None = None, produto_id: int | None = None) -> str:
    query = {k: v for k, v in (("loja", loja_id), ("produto", produto_id)) if v}
    return "/" + (f"?{urlencode(query)}" if query else "")


def render(note: Notification, loja_nome: str) -> tuple[str, str, str]:
    """(title, body, url) in Portuguese; no customer data (only produtos, lojas and states)."""
    n = len(note.produtos)
    if note.kind in (KIND_ZERO, KIND_BAIXO):
        verbo, estado = ("zerou", "Estoque zerado") if note.kind == KIND_ZERO else ("está com estoque baixo",
                                                                                    "Estoque baixo")
        if n == 1:
            (pid, p), = note.produtos.items()
            return (f"{estado}: {p['nome']}", f"{p['nome']} (SKU {p['sku']}) {verbo} na {loja_nome}.",
                    dashboard_url(loja_id=note.loja_id, produto_id=pid))
        plural = "zeraram" if note.kind == KIND_ZERO else "estão com estoque baixo"
        return (f"{n} produtos {plural} na {loja_nome}", _names(note.produtos) + ".",
                dashboard_url(loja_id=note.loja_id))
    if note.kind == KIND_WEBHOOK:
        estado = WEBHOOK_STATUS_TEXT.get(note.status, f"Webhooks: {note.status}")
        detalhes = next((m for m in reversed(note.messages) if m), "")
        return (f"{estado} na {loja_nome}", detalhes or "Verifique os webhooks da Shopify da loja.",
                dashboard_url(loja_id=note.loja_id))
    if note.kind == KIND_RECONECTAR:
        return (f"Reconecte a {loja_nome}", "A Shopify recusou o acesso do ChegouHub a esta loja. Abra o painel e "
                "clique em Reconectar: o estoque que mudou enquanto isso será enviado.",
                dashboard_url(loja_id=note.loja_id))
    if note.kind == KIND_SISTEMA:
        return "ChegouHub", note.messages[0] if note.messages else "", dashboard_url()
    body = f"{note.messages[0]} avisos, entre eles {n} produtos" if n else f"{note.messages[0]} avisos"
    return "Mais avisos nas suas lojas", body + ". Abra o painel para ver todos.", dashboard_url()


def _message(inscricao: Inscricao, note: Notification, lojas: dict) -> PushMessage:
    loja_nome = lojas.get(note.loja_id, {}).get("nome", "sua loja")
    title, body, url = render(note, loja_nome)
    # The same topic/tag for the same kind and loja: a newer notification replaces the older one,
    # on the push service (undelivered) and on the device (shown).
    tag = f"{note.kind}-{note.loja_id}" if note.loja_id and note.kind != KIND_SISTEMA else \
        f"{note.kind}-{note.event_ids[-1]}"
    payload = {"type": note.kind, "title": title[:120], "body": body[:BODY_MAX], "url": url,
               "id": note.event_ids[-1], "tag": tag}
    return PushMessage(inscricao=inscricao, kind=note.kind, topic=tag[:32], payload=payload)


# --- delivery: outbox -> push services ----------------------------------------------------------


def _claimable(now) -> Q:
    return (Q(status=PushStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            | Q(status=PushStatus.SENDING, claimed_until__lt=now))


def _claim(ids: list[int], lease_seconds: int) -> list[int]:
    now = timezone.now()
    return [pk for pk in ids
            if PushMessage.objects.filter(pk=pk).filter(_claimable(now)).update(
                status=PushStatus.SENDING, claimed_until=now + timedelta(seconds=lease_seconds))]


@dataclass
class Attempt:
    status: int | None = None
    retry_after: float | None = None
    error: str = ""
    refused_host: str | None = None  # the endpoint may not be reached (endpoints.check_endpoint)


def send_one(*, endpoint: str, p256dh: str, auth: str, payload: dict, topic: str, urgency: str,
             session: requests.Session | None = None) -> Attempt:
    """Encrypt (aes128gcm) and POST one message with its VAPID header. Pure I/O: no database.

    The endpoint is judged again here, not only when subscribing: its name may resolve elsewhere now.
    """
    try:
        check_endpoint(endpoint)
    except EndpointUnresolved:
        return Attempt(error="DNS")  # like any network error: tried again later
    except EndpointRefused as exc:
        return Attempt(error=f"endereço recusado: {exc}", refused_host=exc.host)
    if session is None:
        with push_session() as own:
            return send_one(endpoint=endpoint, p256dh=p256dh, auth=auth, payload=payload, topic=topic,
                            urgency=urgency, session=own)
    headers = {"Authorization": vapid.authorization_header(endpoint), "Urgency": urgency}
    if topic:
        headers["Topic"] = topic
    try:
        response = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                             requests_session=session).send(
            json.dumps(payload, ensure_ascii=False), headers, ttl=_setting("PUSH_TTL_SECONDS", 43200),
            content_encoding="aes128gcm", timeout=_setting("PUSH_TIMEOUT_SECONDS", 10.0))
    except EndpointRefused as exc:  # the connection reached a non-public address (DNS rebinding)
        return Attempt(error=f"endereço recusado: {exc}", refused_host=exc.host)
    except requests.RequestException as exc:
        return Attempt(error=type(exc).__name__)
    except Exception as exc:  # a key the browser gave that cannot be used
        return Attempt(status=0, error=f"cifragem: {type(exc).__name__}")
    return Attempt(status=response.status_code, retry_after=_retry_after(response.headers.get("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (parsed - timezone.now()).total_seconds())


def deliver(*, ids: list[int] | None = None, limit: int = 100, lease_seconds: int = 60) -> dict[str, int]:
    """Send the given outbox rows, or those due; returns {outcome: count}.

    The database work stays in this thread (claim, read, record); the pool only encrypts and POSTs,
    at most PUSH_CONCURRENCY at once, so a slow push service holds a thread, never a transaction.
    """
    if ids is None:
        ids = list(PushMessage.objects.filter(_claimable(timezone.now())).order_by("id")
                   .values_list("pk", flat=True)[:limit])
    claimed = _claim(ids, lease_seconds)
    if not claimed:
        return {}
    rows = list(PushMessage.objects.filter(pk__in=claimed).select_related("inscricao").order_by("id"))
    counts: dict[str, int] = {}
    with push_session() as session, ThreadPoolExecutor(
            max_workers=max(1, _setting("PUSH_CONCURRENCY", 4)), thread_name_prefix="push") as pool:
        futures = [(row, pool.submit(send_one, endpoint=row.inscricao.endpoint, p256dh=row.inscricao.p256dh,
                                     auth=row.inscricao.auth, payload=row.payload, topic=row.topic,
                                     urgency=URGENCY.get(row.kind, "normal"), session=session))
                   for row in rows]
        for row, future in futures:
            outcome = _record(row, future.result())
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _record(row: PushMessage, attempt: Attempt) -> str:
    row.attempts += 1
    code = attempt.status
    if attempt.refused_host is not None:
        # Never sent and never retried; the log names the host, not the endpoint (a capability URL).
        return _finish(row, PushStatus.DEAD, attempt.error, host=attempt.refused_host)
    if code is not None and 200 <= code < 300:
        return _finish(row, PushStatus.SENT, "")
    if code in (404, 410):
        # The browser unsubscribed or the subscription expired: it will never work again.
        inscricao_id = row.inscricao_id
        Inscricao.objects.filter(pk=inscricao_id).delete()
        metrics.PUSH_SENDS.labels(outcome="removed").inc()
        log.info("push: subscription gone, inscrição removed",
                 extra={"inscricao_id": inscricao_id, "message_id": row.pk, "http_status": code})
        return "removed"
    if code is None or code == 429 or code >= 500:
        return _retry(row, f"HTTP {code}" if code else attempt.error, attempt.retry_after)
    return _finish(row, PushStatus.DEAD, f"HTTP {code}" if code else attempt.error)


def _retry(row: PushMessage, error: str, retry_after: float | None) -> str:
    if row.attempts >= _setting("PUSH_MAX_ATTEMPTS", 8):
        return _finish(row, PushStatus.DEAD, error)
    delay = min(_setting("PUSH_RETRY_BASE_SECONDS", 5.0) * 2 ** (row.attempts - 1), 3600.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 3600.0))
    row.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    return _finish(row, PushStatus.PENDING, error)


def _finish(row: PushMessage, status: str, error: str, host: str | None = None) -> str:
    row.status = status
    row.last_error = error[:300]
    row.claimed_until = None
    if status == PushStatus.SENT:
        row.sent_at = timezone.now()
    if status != PushStatus.PENDING:
        row.next_attempt_at = None
    # An update, not save(): a 410 for another message may just have removed this row with its inscrição.
    PushMessage.objects.filter(pk=row.pk).update(
        status=row.status, last_error=row.last_error, claimed_until=None, sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at, attempts=row.attempts)
    outcome = "retry" if status == PushStatus.PENDING else status
    metrics.PUSH_SENDS.labels(outcome=outcome).inc()
    (log.info if status == PushStatus.SENT else log.warning)(
        "push", extra={"message_id": row.pk, "inscricao_id": row.inscricao_id, "kind": row.kind,
                       "status": status, "attempts": row.attempts, "error": error,
                       **({"host": host} if host is not None else {})})
    return outcome


def run_pass(*, batch: int = 2000) -> dict[str, int]:
    """One worker pass: match every new event (in steps of `batch`; one collapse per step), then
    send what is due, new rows included."""
    created = []
    while True:
        ids, handled = match_events(batch=batch)
        created += ids
        if handled < batch:
            break
    counts = {}
    while due := deliver():
        for outcome, n in due.items():
            counts[outcome] = counts.get(outcome, 0) + n  # retries wait: they are not due yet
    if created:
        counts["matched"] = len(created)
    return counts
