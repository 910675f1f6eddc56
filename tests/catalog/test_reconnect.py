"""A loja whose Shopify stops answering (CONTRACT 9, docs/tokens.md): the refresh is refused, the
loja shows `reconectar` and its owner is told once, webhooks are still applied, pushes and imports
wait without loss, and the install flow run again restores it and sends every stock change made
meanwhile. Over real HTTP against the fake Shopify, with tokens living two seconds."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from chegouhub.catalog.models import Importacao
from chegouhub.inventory.models import Produto
from chegouhub.realtime.events import EVENT_SCHEMAS
from chegouhub.stocksync.models import PushPendente
from chegouhub.stocksync.services import queue_loja
from chegouhub.stores.models import Loja
from tests.catalog.test_install import API_KEY, API_SECRET, authorize, callback

SHOP = "loja-reconecta.myshopify.com"
LIFETIME = 2


@pytest.fixture
def app(fake_shopify, settings):
    fake_shopify.add_app(API_KEY, API_SECRET, token_lifetime=LIFETIME)
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, API_SECRET
    settings.SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE = fake_shopify.authorize_url_template
    settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE = fake_shopify.token_url_template
    settings.SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS = 1
    fake_shopify.add_shop(SHOP, "", name="Loja Reconecta", bucket_size=20_000, restore_rate=20_000)
    fake_shopify.add_products(SHOP, [{"title": "Camiseta", "variants": [
        {"sku": "REC-P", "title": "P", "available": 30}, {"sku": "REC-M", "title": "M", "available": 20}]}])
    return fake_shopify


def shopify_shows(fake) -> dict[str, int]:
    return {v["sku"]: v["available"] for v in fake.catalog(SHOP)["variants"]}


def our_stock(loja) -> dict[str, int]:
    return dict(Produto.objects.filter(deposito_id=loja.deposito_id).values_list("sku", "estoque_atual"))


def push() -> None:
    call_command("push_stock", "--once", stdout=io.StringIO())


def notifications(api, kind: str) -> list[dict]:
    return [e for e in api.get("/api/sync-realtime/events/", {"since": 0}).json()["events"] if e["type"] == kind]


@pytest.mark.django_db(transaction=True)
def test_a_refused_refresh_waits_for_a_reconnection_and_loses_no_stock_change(app, client, user, api, post_webhook):
    client.force_login(user)
    assert callback(client, authorize(app, client, SHOP)).status_code == 302
    call_command("import_catalog", "--once", stdout=io.StringIO())
    loja = Loja.objects.get(shop_domain=SHOP)
    Loja.objects.filter(pk=loja.pk).update(sincronizar_estoque=True)
    queue_loja(loja)
    push()
    assert shopify_shows(app) == our_stock(loja) == {"REC-P": 30, "REC-M": 20}
    body = api.get(f"/api/lojas/{loja.pk}/").json()
    assert body["estado_conexao"] == "ok" and body["tipo_token"] == "expiravel" and body["token_expira_em"]
    assert "access_token" not in body and "refresh_token" not in body

    # The merchant uninstalls the app: Shopify refuses every token and the refresh token.
    app.uninstall(SHOP)
    variant = {v["sku"]: v["id"] for v in app.catalog(SHOP)["variants"]}
    order = app.sell(SHOP, [(variant["REC-P"], 3)])
    assert order.status_code == 201
    answer = post_webhook(loja, "orders/paid", order.json())  # signed with the app secret: still applied
    assert answer.status_code == 200 and answer.json()["status"] == "processed"
    produto_m = Produto.objects.get(deposito_id=loja.deposito_id, sku="REC-M")
    assert api.post(f"/api/estoque/produtos/{produto_m.pk}/movimentacoes/", {"quantidade": -5, "motivo": "avaria"},
                    format="json").status_code == 201
    time.sleep(LIFETIME - 1 + 0.2)  # the token is due for its refresh
    push()

    loja.refresh_from_db()
    body = api.get(f"/api/lojas/{loja.pk}/").json()
    assert body["estado_conexao"] == "reconectar"
    told = notifications(api, "loja_reconectar")
    assert len(told) == 1 and told[0]["priority"] == "alta"
    assert set(told[0]["data"]) == EVENT_SCHEMAS["loja_reconectar"][1]
    assert told[0]["data"]["url"] == f"/shopify/instalar/?shop={SHOP}" and SHOP == told[0]["data"]["shop_domain"]
    # The store's own sale needs no push (Shopify took it off itself); the manual change waits,
    # kept and not backed off.
    waiting = PushPendente.objects.filter(loja=loja)
    assert list(waiting.values_list("variante__sku", "tentativas")) == [("REC-M", 0)]

    # Meanwhile: more sales applied, pushes and imports wait, nobody is told twice, Shopify is not called.
    requests_before = app.counters(SHOP)["requests"]
    order = app.sell(SHOP, [(variant["REC-M"], 2)])
    assert post_webhook(loja, "orders/paid", order.json()).json()["status"] == "processed"
    r = api.post(f"/api/lojas/{loja.pk}/importar-catalogo/")
    assert r.status_code == 202
    importacao_id = r.json()["importacao_id"]
    push()
    call_command("import_catalog", "--once", stdout=io.StringIO())
    assert Importacao.objects.get(pk=importacao_id).status == "na_fila"
    assert app.counters(SHOP)["requests"] == requests_before
    assert len(notifications(api, "loja_reconectar")) == 1
    assert list(waiting.values_list("variante__sku", "tentativas")) == [("REC-M", 0)]
    page = client.get("/lojas/").content.decode()  # the Lojas page holds the Reconectar action
    reconnect = f'href="/shopify/instalar/?shop={SHOP}" data-loja-id="{loja.pk}"'
    assert f"{reconnect}>Reconectar</a>" in page and '<span class="selo selo-reconectar">Reconexão necessária' in page
    assert our_stock(loja) == {"REC-P": 27, "REC-M": 13}
    assert shopify_shows(app) == {"REC-P": 27, "REC-M": 18}  # the store's own sales only

    # Reconnecting through the install flow: ok again, and what waited goes out.
    old_token = loja.access_token
    assert callback(client, authorize(app, client, SHOP)).status_code == 302
    loja.refresh_from_db()
    assert loja.access_token != old_token and loja.reconectar_desde is None
    assert api.get(f"/api/lojas/{loja.pk}/").json()["estado_conexao"] == "ok"
    call_command("import_catalog", "--once", stdout=io.StringIO())
    assert Importacao.objects.get(pk=importacao_id).status == "concluida"
    push()
    assert shopify_shows(app) == our_stock(loja) == {"REC-P": 27, "REC-M": 13}
    assert not PushPendente.objects.filter(loja=loja).exists()
    assert f"{reconnect} hidden>Reconectar</a>" in client.get("/lojas/").content.decode()
