"""The webhook management API (CONTRACT section 6), scoped to the user's lojas."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chegouhub.stores.models import Loja, WebhookStatus
from tests.devtools.fake_fixtures import register

NEW = "https://novo.chegouhub.test"
OLD = "https://antigo.chegouhub.test"
NEW_ADDRESS = f"{NEW}/api/estoque/webhook/shopify/"
OLD_ADDRESS = f"{OLD}/api/estoque/webhook/shopify/"
REQUIRED = {"ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE", "APP_UNINSTALLED"}


@pytest.fixture
def setup(fake_shopify, user, other_user, make_loja):
    mine = [make_loja(user, token=f"shpat_mine_{i}") for i in range(3)]
    theirs = make_loja(other_user, token="shpat_theirs_0")
    register(fake_shopify, [*mine, theirs])
    return mine, theirs


def _topics_at(fake, loja, address):
    return {s["topic"] for s in fake.subscriptions(loja.shop_domain) if s["uri"] == address}


def test_configure_webhooks_for_all_of_the_users_lojas(api, setup, fake_shopify):
    mine, theirs = setup
    r = api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": NEW}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["endereco"] == NEW_ADDRESS and body["total"] == 3 and body["sucesso"] == 3 and body["falhas"] == 0
    assert {item["loja_id"] for item in body["lojas"]} == {loja.pk for loja in mine}
    assert all(sorted(item["criados"]) == sorted(["orders/paid", "orders/cancelled", "refunds/create",
                                                  "app/uninstalled"]) for item in body["lojas"])
    for loja in mine:
        assert _topics_at(fake_shopify, loja, NEW_ADDRESS) == REQUIRED
    assert fake_shopify.subscriptions(theirs.shop_domain) == []  # another user's loja is untouched
    again = api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": NEW}, format="json").json()
    assert all(item["criados"] == [] for item in again["lojas"])
    assert "access_token" not in str(body) and "shpat_" not in str(body)


def test_base_domain_defaults_to_settings_and_is_validated(api, setup, fake_shopify, settings):
    settings.WEBHOOK_BASE_DOMAIN = "https://padrao.chegouhub.test"
    mine, _ = setup
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[0].pk}, format="json")
    assert r.status_code == 200 and r.json()["endereco"] == "https://padrao.chegouhub.test/api/estoque/webhook/shopify/"
    for bad in ("ftp://x.test", "not a url", "https://x.test/?q=1"):
        r = api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": bad}, format="json")
        assert r.status_code == 400 and "base_domain" in r.json()["campos"]


def test_configure_single_and_tenant_isolation(api, setup, fake_shopify):
    mine, theirs = setup
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": theirs.pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 404 and "erro" in r.json()
    assert fake_shopify.subscriptions(theirs.shop_domain) == []
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[1].pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["loja_id"] == mine[1].pk
    assert _topics_at(fake_shopify, mine[1], NEW_ADDRESS) == REQUIRED
    assert fake_shopify.subscriptions(mine[0].shop_domain) == []
    assert Loja.objects.get(pk=mine[1].pk).webhook_status == WebhookStatus.CONFIGURED
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"base_domain": NEW}, format="json")
    assert r.status_code == 400


def test_user_errors_and_rejections_are_surfaced_clearly(api, setup, fake_shopify):
    mine, _ = setup
    fake_shopify.fail(mine[0].shop_domain, "user_errors", message="Address cannot be a Shopify or an internal domain",
                      operation="webhookSubscriptionCreate")
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[0].pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 422
    body = r.json()
    assert body["erro_codigo"] == "erro_de_validacao"
    assert "Address cannot be a Shopify or an internal domain" in body["erro"] and "orders/paid" in body["erro"]
    assert body["ok"] is False and len(body["criados"]) == 3 and body["topicos_ausentes"] == ["orders/paid"]
    assert Loja.objects.get(pk=mine[0].pk).webhook_status == WebhookStatus.INCOMPLETE

    fake_shopify.add_shop(mine[1].shop_domain, "token-trocado")
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[1].pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 422 and "token de acesso" in r.json()["erro"]
    assert r.json()["erro_codigo"] == "token_recusado"
    assert "shpat_mine_1" not in r.content.decode() and "token-trocado" not in r.content.decode()
    assert Loja.objects.get(pk=mine[1].pk).webhook_status == WebhookStatus.ERROR


def test_5xx_is_retried_behind_the_api(api, setup, fake_shopify, monkeypatch):
    monkeypatch.setattr("chegouhub.shopify.admin_api.BACKOFF_BASE", 0.05)
    mine, _ = setup
    fake_shopify.fail(mine[0].shop_domain, "5xx", count=2)
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[0].pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["requisicoes"] >= 7
    fake_shopify.fail(mine[1].shop_domain, "5xx", count=10)
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[1].pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 502 and r.json()["erro_codigo"] == "shopify_indisponivel"
    assert "após 4 tentativas" in r.json()["erro"]


def test_webhooks_status(api, setup, fake_shopify):
    mine, theirs = setup
    api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": mine[0].pk, "base_domain": NEW},
             format="json")
    fake_shopify.add_subscription(mine[1].shop_domain, "ORDERS_PAID", NEW_ADDRESS)
    fake_shopify.add_subscription(mine[1].shop_domain, "ORDERS_CANCELLED", OLD_ADDRESS)
    fake_shopify.add_shop(mine[2].shop_domain, "token-trocado")
    r = api.get("/api/sync-realtime/webhooks-status/", {"base_domain": NEW})
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["total"] == 3
    by_id = {item["loja_id"]: item for item in body["lojas"]}
    assert theirs.pk not in by_id
    assert by_id[mine[0].pk]["ok"] is True and by_id[mine[0].pk]["topicos_ausentes"] == []
    assert len(by_id[mine[0].pk]["assinaturas"]) == 4
    second = by_id[mine[1].pk]
    assert second["ok"] is False
    assert second["topicos_ausentes"] == ["orders/cancelled", "refunds/create", "app/uninstalled"]
    assert second["enderecos_errados"][0]["endereco"] == OLD_ADDRESS
    assert second["webhook_status"] == WebhookStatus.INCOMPLETE
    third = by_id[mine[2].pk]
    assert third["ok"] is False and "token" in third["erro"]


def test_test_connectivity(api, setup, fake_shopify):
    mine, theirs = setup
    r = api.get("/api/sync-realtime/test-connectivity/", {"loja_id": mine[0].pk})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"loja_id", "conectado", "shop", "latencia_ms", "erro"}
    assert body["conectado"] is True and body["erro"] is None and body["loja_id"] == mine[0].pk
    assert body["shop"]["myshopify_domain"] == mine[0].shop_domain and body["latencia_ms"] > 0
    assert api.get("/api/sync-realtime/test-connectivity/", {"loja_id": theirs.pk}).status_code == 404
    assert api.get("/api/sync-realtime/test-connectivity/").status_code == 400
    fake_shopify.add_shop(mine[1].shop_domain, "token-trocado")
    body = api.get("/api/sync-realtime/test-connectivity/", {"loja_id": mine[1].pk}).json()
    assert body["conectado"] is False and "token" in body["erro"] and body["shop"] == {}


def test_cleanup_webhooks(api, setup, fake_shopify):
    mine, theirs = setup
    for loja in [*mine, theirs]:
        fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", OLD_ADDRESS)
        fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", NEW_ADDRESS)
    r = api.delete("/api/sync-realtime/cleanup-webhooks/", {"base_domain": OLD}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["removidos_total"] == 3
    for loja in mine:
        assert [s["uri"] for s in fake_shopify.subscriptions(loja.shop_domain)] == [NEW_ADDRESS]
    assert len(fake_shopify.subscriptions(theirs.shop_domain)) == 2  # not the user's: untouched
    assert api.delete("/api/sync-realtime/cleanup-webhooks/", {}, format="json").status_code == 400


def test_authentication_required(client, setup):
    assert client.post("/api/sync-realtime/configure-webhooks/", {}).status_code in (401, 403)
    assert client.get("/api/sync-realtime/webhooks-status/").status_code in (401, 403)


def test_session_clients_need_csrf(setup, user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    r = client.post("/api/sync-realtime/configure-webhooks/", {"base_domain": NEW}, format="json")
    assert r.status_code == 403


def test_no_lojas_and_a_loja_without_token(api, user, make_loja, fake_shopify, other_user):
    other = APIClient()
    other.force_authenticate(other_user)
    body = other.post("/api/sync-realtime/configure-webhooks/", {"base_domain": NEW}, format="json").json()
    assert body["total"] == 0 and body["lojas"] == []
    loja = make_loja(user, token="")
    r = api.post("/api/sync-realtime/configure-webhook-single/", {"loja_id": loja.pk, "base_domain": NEW},
                 format="json")
    assert r.status_code == 422 and r.json()["erro_codigo"] == "sem_token"
    assert Loja.objects.get(pk=loja.pk).webhook_status == WebhookStatus.ERROR
