"""The compliance topics on the webhook endpoint, the requests' API, data_request and shop/redact."""

from __future__ import annotations

import pytest

from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.privacy.models import PedidoPrivacidade
from chegouhub.realtime.models import Event
from chegouhub.shopify.models import OrderLedger, WebhookDelivery
from chegouhub.stores.models import Loja

from .conftest import CANARIES, CANARY_EMAIL, CANARY_PHONE, CUSTOMER_ID, customer_order, run_worker

TOPICS = {
    "customers/data_request": lambda shop: {"shop_id": 1, "shop_domain": shop, "orders_requested": [1001],
                                            "customer": {"id": CUSTOMER_ID, "email": CANARY_EMAIL, "phone": CANARY_PHONE},
                                            "data_request": {"id": 9001}},
    "customers/redact": lambda shop: {"shop_id": 1, "shop_domain": shop, "orders_to_redact": [1001],
                                      "customer": {"id": CUSTOMER_ID, "email": CANARY_EMAIL, "phone": CANARY_PHONE}},
    "shop/redact": lambda shop: {"shop_id": 1, "shop_domain": shop},
}


@pytest.mark.parametrize("topic", list(TOPICS))
def test_a_bad_signature_is_refused_with_401_and_records_nothing(loja, post_webhook, topic):
    answer = post_webhook(loja, topic, TOPICS[topic](loja.shop_domain), secret="not-the-secret")
    assert answer.status_code == 401 and "erro" in answer.json()
    assert not PedidoPrivacidade.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("topic", list(TOPICS))
def test_each_topic_is_answered_at_once_and_done_by_the_worker(loja, api, post_webhook, topic):
    answer = post_webhook(loja, topic, TOPICS[topic](loja.shop_domain))
    assert answer.status_code == 200 and answer.json() == {"status": "processed"}
    # The compliance delivery's own body names the customer: not kept.
    assert bytes(WebhookDelivery.objects.get(topic=topic).body) == b""
    listed = api.get("/api/privacidade/pedidos/").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert set(row) >= {"id", "loja_id", "tipo", "recebido_em", "concluido_em", "relatorio"}
    assert row["loja_id"] == loja.pk and row["concluido_em"] is None
    run_worker()
    row = api.get(f"/api/privacidade/pedidos/{row['id']}/").json()
    assert row["status"] == "concluido" and row["concluido_em"]
    assert PedidoPrivacidade.objects.get().parametros == {}  # no customer data kept once done


def test_data_request_reports_what_is_held_without_the_values(loja, make_produto, api, post_webhook, other_user):
    make_produto(loja, "CAMISA")
    post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 1)]))
    post_webhook(loja, "customers/data_request", TOPICS["customers/data_request"](loja.shop_domain))
    run_worker()
    response = api.get("/api/privacidade/pedidos/")
    assert all(canary not in response.content.decode() for canary in CANARIES)
    report = response.json()["results"][0]["relatorio"]
    assert report["pedidos_solicitados"] == [1001] and report["pedidos_no_livro"] == [1001]
    [entrega] = report["entregas"]
    assert entrega["topico"] == "orders/paid" and entrega["order_id"] == 1001 and entrega["recebida_em"]
    assert {"customer.email", "customer.phone", "email", "phone", "billing_address.address1",
            "shipping_address.address1", "contact_email"} <= set(entrega["campos_pessoais"])
    assert report["retencao_dias"] == 30

    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get("/api/privacidade/pedidos/").json()["count"] == 0
    assert other.get(f"/api/privacidade/pedidos/{response.json()['results'][0]['id']}/").status_code == 404


def _history(loja):
    return (Produto.objects.filter(loja=loja).count(), Movimentacao.objects.filter(loja=loja).count(),
            OrderLedger.objects.filter(loja=loja).count())


@pytest.mark.parametrize("keep", [False, True])
def test_shop_redact_after_uninstall(loja, make_produto, api, post_webhook, keep):
    api.patch(f"/api/lojas/{loja.pk}/", {"manter_historico": keep}, format="json")
    assert api.get(f"/api/lojas/{loja.pk}/").json()["manter_historico"] is keep
    make_produto(loja, "CAMISA")
    post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 1)]))
    assert post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain}).status_code == 200
    assert _history(loja) == (1, 2, 1)

    # 48 hours later, the loja inactive: still heard, signed.
    answer = post_webhook(loja, "shop/redact", TOPICS["shop/redact"](loja.shop_domain))
    assert answer.status_code == 200 and answer.json() == {"status": "processed"}
    run_worker()

    tombstone = Loja.objects.get(pk=loja.pk)
    assert (tombstone.access_token, tombstone.webhook_secret, tombstone.ativo) == ("", "", False)
    assert not WebhookDelivery.objects.filter(loja=loja).exclude(body=b"").exists()
    assert _history(loja) == ((1, 2, 1) if keep else (0, 0, 0))
    from chegouhub.sales.models import ValorVenda

    kept = (ValorVenda.objects.filter(loja=loja).count(), Event.objects.filter(loja=loja, stream="estoque").count())
    assert (all(kept) if keep else not any(kept)), kept  # the sale's value and its stock events
    told = Event.objects.filter(user_id=loja.owner_id, type="webhook_status_change").order_by("-id").first()
    assert told.data["status"] == "removido" and "remoção dos dados da loja" in told.data["detalhes"]
    assert ("mantido" if keep else "apagado") in told.data["detalhes"]
    assert api.get("/api/privacidade/pedidos/").json()["results"][0]["relatorio"]["historico_mantido"] is keep
    # Its secret is gone: a further signed delivery is refused, and the loja stays unusable.
    assert post_webhook(loja, "orders/paid", customer_order(1002, [(11, "CAMISA", 1)])).status_code == 404


def test_app_uninstalled_deactivates_the_loja_and_forgets_its_token(loja, make_produto, post_webhook):
    make_produto(loja, "CAMISA")
    answer = post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain})
    assert answer.status_code == 200
    loja.refresh_from_db()
    assert loja.ativo is False and loja.access_token == "" and loja.webhook_status == "desinstalado"
    assert loja.webhook_secret  # the compliance webhooks still verify
    refused = post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 1)]))
    assert refused.status_code == 404
    assert Produto.objects.get(loja=loja).estoque_atual == 10


def test_a_failing_request_is_retried_and_claims_are_exclusive(loja, post_webhook, monkeypatch):
    from chegouhub.privacy import services

    post_webhook(loja, "customers/redact", TOPICS["customers/redact"](loja.shop_domain))
    real = services.ACTIONS["apagar_cliente"]

    def boom(**kw):
        raise RuntimeError(CANARY_EMAIL)

    monkeypatch.setitem(services.ACTIONS, "apagar_cliente", boom)
    run_worker()
    request = PedidoPrivacidade.objects.get()
    assert request.status == "falhou" and request.ultimo_erro == "RuntimeError" and request.tentativas == 1
    assert CANARY_EMAIL not in request.ultimo_erro
    monkeypatch.setitem(services.ACTIONS, "apagar_cliente", real)
    PedidoPrivacidade.objects.update(proxima_tentativa_em="2000-01-01T00:00Z")
    assert services.claim_due_requests() == [request.pk]
    assert services.claim_due_requests() == []  # claimed: another worker gets nothing
    assert services.run_request(request.pk) == "concluido"


def test_shop_redact_again_changes_nothing_unless_the_loja_was_connected_again(loja, make_produto, api,
                                                                                 post_webhook, settings):
    settings.SHOPIFY_API_SECRET = "shpss_app_client_secret"  # verifies once the loja's own is deleted
    shop = TOPICS["shop/redact"](loja.shop_domain)
    post_webhook(loja, "shop/redact", shop)
    run_worker()
    assert api.get("/api/privacidade/pedidos/").json()["count"] == 1
    loja.refresh_from_db()
    assert loja.webhook_secret == ""
    # A redelivery under a new webhook id, signed with the app's secret: heard, nothing new.
    assert post_webhook(loja, "shop/redact", shop, secret=settings.SHOPIFY_API_SECRET).json() == {
        "status": "processed"}
    assert post_webhook(loja, "shop/redact", shop, secret="wrong").status_code == 401
    run_worker()
    assert api.get("/api/privacidade/pedidos/").json()["count"] == 1

    # Installed again, sold, uninstalled again: the next shop/redact deletes the new data too.
    Loja.objects.filter(pk=loja.pk).update(ativo=True)
    loja.refresh_from_db()
    loja.webhook_secret, loja.access_token = "shpss_new_secret", "shpat_new_token"
    loja.save()
    make_produto(loja, "CAMISA")
    post_webhook(loja, "orders/paid", customer_order(2001, [(11, "CAMISA", 1)]))
    post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain})
    post_webhook(loja, "shop/redact", shop)
    run_worker()
    assert api.get("/api/privacidade/pedidos/").json()["count"] == 2
    assert _history(loja) == (0, 0, 0)


def test_shop_redact_of_a_loja_in_a_shared_deposito_leaves_the_other_lojas_stock(loja, make_loja, user, make_produto,
                                                                                  post_webhook):
    """The redacted loja's own history goes; the produtos it shares with another loja stay theirs."""
    from chegouhub.stocksync.depositos import move_loja

    other = make_loja(user, secret="shpss_other_secret_0001")
    camisa = make_produto(loja, "CAMISA", estoque=10)  # made in `loja`: its home loja
    move_loja(loja=other, deposito=loja.deposito)
    post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 1)]))
    post_webhook(other, "orders/paid", customer_order(2001, [(11, "CAMISA", 2)]))
    camisa.refresh_from_db()
    assert camisa.estoque_atual == 7
    post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain})
    post_webhook(loja, "shop/redact", TOPICS["shop/redact"](loja.shop_domain))
    run_worker()

    camisa.refresh_from_db()  # still there, with the other loja's sale and its stock
    assert camisa.estoque_atual == 7 and camisa.loja_id == other.pk
    assert Movimentacao.objects.filter(loja=other, produto=camisa).count() == 1
    # the redacted loja's history went, its lines in the shared ledger too (CONTRACT 13)
    assert not Movimentacao.objects.filter(loja=loja).exists()
    assert not Movimentacao.objects.filter(produto=camisa, loja=None).exists()
    assert post_webhook(other, "orders/paid", customer_order(2002, [(11, "CAMISA", 1)])).json()["status"] == "processed"
    camisa.refresh_from_db()
    assert camisa.estoque_atual == 6


def test_a_redacted_lojas_tombstone_inherits_nothing(loja, make_loja, user, make_produto, post_webhook):
    """Two lojas of one depósito redacted one after the other: the second's produtos go with it, not
    to the first's tombstone (which asked for its own data to go)."""
    from chegouhub.stocksync.depositos import move_loja

    other = make_loja(user, secret="shpss_other_secret_0001")
    make_produto(loja, "CAMISA", estoque=10)
    move_loja(loja=other, deposito=loja.deposito)
    for store in (loja, other):
        post_webhook(store, "app/uninstalled", {"id": 1, "domain": store.shop_domain})
        post_webhook(store, "shop/redact", TOPICS["shop/redact"](store.shop_domain))
        run_worker()
        assert Produto.objects.filter(loja=store).count() == 0
    assert not Produto.objects.filter(deposito=loja.deposito).exists()
