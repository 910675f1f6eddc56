"""The push worker against a local push service that checks VAPID and decrypts aes128gcm.

Events are made the way the product makes them: stock changes through the inventory service and
signed Shopify webhooks through the receiver; the worker runs as its command (`send_push --once`).
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from chegouhub.devtools.payloads import order_payload
from chegouhub.inventory.services import adjust_stock
from chegouhub.push.models import Inscricao, PushMessage, PushStatus
from chegouhub.push.services import match_events
from chegouhub.realtime.events import NewEvent, record_events
from tests.push.conftest import VAPID_PRIVATE, VAPID_PUBLIC

pytestmark = pytest.mark.django_db


def subscribe(api, browser, **extra) -> int:
    r = api.post("/api/push/inscricoes/", {**browser.subscription(), **extra}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def send_push() -> str:
    out = io.StringIO()
    call_command("send_push", "--once", stdout=out)
    return out.getvalue()


def sell_out(produto):
    adjust_stock(produto=produto, quantidade=-produto.estoque_atual, motivo="vendido")


def test_a_produto_selling_out_reaches_the_browser_signed_and_encrypted(api, loja, make_produto, push_service,
                                                                          browser_sub):
    subscribe(api, browser_sub)
    camiseta = make_produto(loja, "CAM-AZUL", estoque=3, minimo=1, nome="Camiseta azul")
    sell_out(camiseta)

    assert "sent=1" in send_push()
    assert push_service.refused == []
    (received,) = push_service.received
    assert received.payload == {
        "type": "estoque_zero",
        "title": "Estoque zerado: Camiseta azul",
        "body": f"Camiseta azul (SKU CAM-AZUL) zerou na {loja.nome}.",
        "url": f"/?loja={loja.pk}&produto={camiseta.pk}",
        "id": received.payload["id"],
        "tag": f"estoque_zero-{loja.pk}",
    }
    assert received.headers["topic"] == f"estoque_zero-{loja.pk}"
    assert received.headers["urgency"] == "high"
    assert received.claims["sub"] == "mailto:testes@chegouhub.com.br"
    assert received.headers["authorization"].endswith(f"k={VAPID_PUBLIC}")
    # Nothing twice: a second pass finds nothing new.
    assert send_push() == ""
    assert len(push_service.received) == 1


def test_only_what_the_inscricao_asked_for(api, user, other_user, make_loja, make_produto, push_service):
    loja_a, loja_b, alheia = make_loja(user), make_loja(user), make_loja(other_user)
    so_a = push_service.new_browser(server_key=VAPID_PUBLIC)
    so_webhooks = push_service.new_browser(server_key=VAPID_PUBLIC)
    tudo = push_service.new_browser(server_key=VAPID_PUBLIC)
    subscribe(api, so_a, lojas=[loja_a.pk])
    subscribe(api, so_webhooks, tipos=["webhook_status_change"])
    subscribe(api, tudo, tipos=["produto_estoque_zero", "alerta_estoque_gerado", "alerta_estoque_baixo"])

    baixo = make_produto(loja_a, "BAIXO", estoque=10, minimo=5)
    adjust_stock(produto=baixo, quantidade=-6, motivo="venda")  # low (alta): off by default
    sell_out(make_produto(loja_b, "ZERO-B", estoque=2, minimo=0))
    sell_out(make_produto(alheia, "ALHEIO", estoque=2))  # another user's loja: never ours
    with transaction.atomic():
        record_events([NewEvent(type="webhook_status_change", loja_id=loja_a.pk, user_id=user.pk,
                                data={"loja_id": loja_a.pk, "shop_domain": loja_a.shop_domain,
                                      "status": "desinstalado", "detalhes": "O app foi desinstalado da loja."})])
    send_push()

    titles = {name: sorted(p["title"] for p in push_service.payloads(b))
              for name, b in (("so_a", so_a), ("so_webhooks", so_webhooks), ("tudo", tudo))}
    webhook_title = f"App desinstalado na {loja_a.nome}"
    assert titles["so_a"] == [webhook_title]
    assert titles["so_webhooks"] == [webhook_title]
    assert titles["tudo"] == ["Estoque baixo: Produto BAIXO", "Estoque zerado: Produto ZERO-B"]
    assert not any("ALHEIO" in str(p) for p in push_service.payloads())


def test_events_before_the_inscricao_are_not_sent(api, loja, make_produto, push_service, browser_sub):
    sell_out(make_produto(loja, "ANTES", estoque=1))
    subscribe(api, browser_sub)
    sell_out(make_produto(loja, "DEPOIS", estoque=1))
    send_push()
    assert [p["title"] for p in push_service.payloads()] == ["Estoque zerado: Produto DEPOIS"]


@pytest.mark.parametrize("status", [404, 410])
def test_a_push_service_saying_gone_removes_the_inscricao(api, loja, make_produto, push_service, browser_sub,
                                                          status):
    inscricao_id = subscribe(api, browser_sub)
    push_service.answers[browser_sub.token] = [(status, {})]
    sell_out(make_produto(loja, "X", estoque=1))
    assert "removed=1" in send_push()
    assert not Inscricao.objects.filter(pk=inscricao_id).exists()
    assert api.get("/api/push/inscricoes/").json()["count"] == 0
    sell_out(make_produto(loja, "Y", estoque=1))
    send_push()
    assert push_service.requests == [(browser_sub.token, status)]  # never tried again


def test_429_waits_for_retry_after_then_delivers(api, loja, make_produto, push_service, browser_sub):
    subscribe(api, browser_sub)
    push_service.answers[browser_sub.token] = [(429, {"Retry-After": "120"})]
    sell_out(make_produto(loja, "X", estoque=1))
    before = timezone.now()
    assert "retry=1" in send_push()
    message = PushMessage.objects.get()
    assert message.status == PushStatus.PENDING
    assert message.next_attempt_at >= before + timedelta(seconds=119)
    assert send_push() == ""  # not due yet: nothing sent
    assert len(push_service.requests) == 1

    PushMessage.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))  # two minutes later
    assert "sent=1" in send_push()
    assert [p["title"] for p in push_service.payloads()] == ["Estoque zerado: Produto X"]
    assert PushMessage.objects.get().attempts == 2


def test_5xx_is_retried_with_backoff_until_dead(api, loja, make_produto, push_service, browser_sub, settings):
    settings.PUSH_MAX_ATTEMPTS = 3
    subscribe(api, browser_sub)
    push_service.answers[browser_sub.token] = [(500, {}), (503, {}), (502, {})]
    sell_out(make_produto(loja, "X", estoque=1))
    delays = []
    for _ in range(3):
        start = timezone.now()
        send_push()
        message = PushMessage.objects.get()
        if message.next_attempt_at:
            delays.append((message.next_attempt_at - start).total_seconds())
        PushMessage.objects.filter(status=PushStatus.PENDING).update(next_attempt_at=timezone.now())
    assert message.status == PushStatus.DEAD and message.attempts == 3
    assert 0.9 < delays[0] < 1.5 and 1.9 < delays[1] < 2.5  # base 1 s, doubled
    assert [s for _, s in push_service.requests] == [500, 503, 502]
    assert Inscricao.objects.exists()  # a failing service does not drop the browser


def test_a_flash_sale_becomes_a_handful_of_readable_notifications(api, loja, make_produto, post_webhook,
                                                                  push_service, browser_sub):
    subscribe(api, browser_sub)
    produtos = [make_produto(loja, f"SKU-{i:02d}", estoque=10, minimo=2, nome=f"Produto {i:02d}")
                for i in range(50)]
    for n in range(500):  # 500 orders, 10 per produto: all 50 reach zero
        r = post_webhook(loja, "orders/paid", order_payload(9_000_000 + n, [(1, f"SKU-{n % 50:02d}", 1)]))
        assert r.status_code == 200 and r.json()["status"] == "processed"
    assert all(p.estoque_atual == 0 for p in type(produtos[0]).objects.filter(loja=loja))

    send_push()
    payloads = push_service.payloads(browser_sub)
    assert 1 <= len(payloads) <= 3
    assert payloads[0]["title"] == f"50 produtos zeraram na {loja.nome}"
    assert payloads[0]["body"] == "Produto 00, Produto 01, Produto 02 e mais 47."
    assert payloads[0]["url"] == f"/?loja={loja.pk}"
    assert PushMessage.objects.exclude(status=PushStatus.SENT).count() == 0
    assert push_service.refused == []


def test_secrets_and_endpoints_stay_out_of_logs(api, loja, make_produto, push_service, browser_sub, caplog):
    subscribe(api, browser_sub)
    push_service.answers[browser_sub.token] = [(500, {})]
    with caplog.at_level(logging.DEBUG):  # every logger at its configured level, down to DEBUG
        sell_out(make_produto(loja, "X", estoque=1))
        send_push()
        PushMessage.objects.update(next_attempt_at=timezone.now())
        send_push()
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "push" in text  # the sends were logged...
    for secret in (browser_sub.auth_b64, browser_sub.token, VAPID_PRIVATE):
        assert secret not in text  # ...without the auth secret, the endpoint or the VAPID key


def test_the_worker_never_blocks_the_webhook(api, loja, make_produto, post_webhook, push_service, browser_sub):
    """The webhook answers and commits with the push service unreachable: push is not on its path."""
    subscribe(api, browser_sub)
    make_produto(loja, "X", estoque=1)
    push_service.stop()
    r = post_webhook(loja, "orders/paid", order_payload(42, [(1, "X", 1)]))
    assert r.status_code == 200 and r.json()["status"] == "processed"
    assert "retry=1" in send_push()  # the worker keeps it for later


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_several_workers_match_each_event_once(user, loja, make_produto, push_service):
    """Three workers race over the same log in small steps: the outbox is what one worker makes."""
    from chegouhub.push.models import PushCursor
    from chegouhub.push.services import subscribe as subscribe_service

    browser = push_service.new_browser(server_key=VAPID_PUBLIC)
    subscribe_service(user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth_b64,
                      lojas=[], tipos=[])
    for i in range(30):
        sell_out(make_produto(loja, f"P{i:02d}", estoque=1, minimo=0))
    created: list[int] = []
    start = threading.Barrier(3)

    def worker():
        try:
            start.wait()
            while True:
                ids, handled = match_events(batch=3)
                created.extend(ids)
                if not handled:
                    return
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raced = sorted((m.payload["id"], m.payload["title"]) for m in PushMessage.objects.all())
    assert len(created) == len(set(created)) == len(raced)

    PushMessage.objects.all().delete()
    PushCursor.objects.all().delete()
    while match_events(batch=3)[1]:
        pass
    alone = sorted((m.payload["id"], m.payload["title"]) for m in PushMessage.objects.all())
    assert raced == alone
    assert {title for _, title in alone} == {f"Estoque zerado: Produto P{i:02d}" for i in range(30)}


def test_sends_are_bounded_by_push_concurrency(api, loja, make_produto, push_service, settings):
    """Six browsers, a slow push service, PUSH_CONCURRENCY=2: never more than two sends at once."""
    settings.PUSH_CONCURRENCY = 2
    browsers = [push_service.new_browser(server_key=VAPID_PUBLIC) for _ in range(6)]
    for browser in browsers:
        subscribe(api, browser)
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    handle = push_service.handle

    def slow_handle(request):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            threading.Event().wait(0.3)
            return handle(request)
        finally:
            with lock:
                state["now"] -= 1

    push_service.handle = slow_handle
    sell_out(make_produto(loja, "X", estoque=1, minimo=0))
    assert "sent=6" in send_push()
    assert push_service.refused == [] and len(push_service.received) == 6
    assert state["max"] == 2, state


def test_generate_vapid_keys_prints_a_pair_the_push_service_accepts(api, loja, make_produto, push_service,
                                                                   settings):
    out = io.StringIO()
    call_command("generate_vapid_keys", stdout=out)
    printed = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    assert set(printed) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"}
    assert printed["VAPID_PRIVATE_KEY"] != VAPID_PRIVATE
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = printed["VAPID_PRIVATE_KEY"], printed["VAPID_PUBLIC_KEY"]
    browser = push_service.new_browser(server_key=printed["VAPID_PUBLIC_KEY"])
    subscribe(api, browser)
    sell_out(make_produto(loja, "X", estoque=1, nome="Boné"))
    assert "sent=1" in send_push()
    assert push_service.refused == []  # the JWT verifies with the printed public key
    assert push_service.payloads(browser)[0]["title"] == "Estoque zerado: Boné"


def test_a_loja_that_must_reconnect_is_told_once_by_push(api, loja, push_service, browser_sub):
    # Issue 27: a refused refresh tells the owner on the socket *and* by Web Push, once.
    from chegouhub.shopify.tokens import mark_reconnect
    from chegouhub.stores.models import Loja

    subscribe(api, browser_sub)  # default tipos
    for _ in range(2):  # a second refusal of the same loja is not news
        with transaction.atomic():
            mark_reconnect(Loja.objects.select_for_update().get(pk=loja.pk))
    assert "sent=1" in send_push()

    (received,) = push_service.received
    assert received.payload["type"] == "reconectar"
    assert received.payload["title"] == f"Reconecte a {loja.nome}"
    assert "Reconectar" in received.payload["body"]
    assert received.payload["url"] == f"/?loja={loja.pk}"
    assert received.headers["urgency"] == "high"
