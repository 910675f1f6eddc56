"""The Shopify app install flow (CONTRACT section 9) over real HTTP against the fake Shopify: the
happy path to an imported catalog, and each refusal, which shows a clear page and changes nothing."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from chegouhub.catalog.models import Importacao
from chegouhub.inventory.models import Produto
from chegouhub.stores.models import Loja

API_KEY, API_SECRET = "chegouhub-app-teste", "shpss_segredo_do_app_teste"
SHOP = "loja-instalada.myshopify.com"


@pytest.fixture
def app(fake_shopify, settings):
    fake_shopify.add_app(API_KEY, API_SECRET)
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, API_SECRET
    settings.SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE = fake_shopify.authorize_url_template
    settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE = fake_shopify.token_url_template
    fake_shopify.add_shop(SHOP, "", name="Loja Instalada", bucket_size=20_000, restore_rate=20_000)
    fake_shopify.add_products(SHOP, [
        {"title": "Camiseta", "variants": [{"sku": "CAM-P", "title": "P", "available": 8},
                                           {"sku": "CAM-M", "title": "M", "available": 5}]},
        {"title": "Vale-presente", "variants": [{"sku": None, "available": 0}]},
    ])
    return fake_shopify


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


def authorize(fake, client, shop: str = SHOP) -> str:
    """/shopify/instalar/ -> the fake's authorize page -> "Instalar app": the callback URL Shopify sends."""
    r = client.get("/shopify/instalar/", {"shop": shop})
    assert r.status_code == 302, r.content
    url = r["Location"]
    assert url.startswith(fake.authorize_url_template.format(shop=shop))
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["client_id"] == API_KEY and query["redirect_uri"] == "http://testserver/shopify/callback/"
    assert query["scope"] == "read_orders,read_products,read_inventory,write_inventory,read_locations"
    assert len(query["state"]) >= 32
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "Instalar app" in page.text
    confirm = httpx.post(f"{fake.url}/{shop}/admin/oauth/authorize/confirm", timeout=10,
                         data={k: query[k] for k in ("client_id", "scope", "redirect_uri", "state")})
    assert confirm.status_code == 302
    return confirm.headers["location"]


def callback(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path + "?" + parts.query)


def snapshot():
    return (list(Loja.objects.values_list("id", "shop_domain", "owner_id", "access_token", "webhook_secret")),
            Importacao.objects.count(), Produto.objects.count())


def test_install_connects_the_loja_configures_webhooks_and_imports(app, browser_client, user, api):
    r = callback(browser_client, authorize(app, browser_client))
    assert r.status_code == 302
    loja = Loja.objects.get(shop_domain=SHOP)
    assert r["Location"] == f"/?loja={loja.pk}"
    assert loja.owner == user and loja.ativo and loja.verificado_em is not None  # the code exchange proves it
    assert loja.access_token.startswith("shpat_") and loja.webhook_secret == API_SECRET
    from django.db import connection

    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT access_token, webhook_secret FROM stores_loja WHERE id = %s", [loja.pk])
        raw_token, raw_secret = cursor.fetchone()
    assert loja.access_token not in raw_token and API_SECRET not in raw_secret
    importacao = Importacao.objects.get(loja=loja)
    assert importacao.status == "na_fila" and importacao.conectar
    assert app.subscriptions(SHOP) == []  # the request itself did not configure anything on Shopify

    out = io.StringIO()
    call_command("import_catalog", "--once", stdout=out)
    loja.refresh_from_db()
    topics = sorted(s["topic"] for s in app.subscriptions(SHOP))
    assert topics == ["APP_UNINSTALLED", "ORDERS_CANCELLED", "ORDERS_PAID", "REFUNDS_CREATE"]
    assert loja.webhook_status == "configurado" and loja.nome == "Loja Instalada"
    assert loja.location_id == app.catalog(SHOP)["locations"][0]["id"]
    body = api.get(f"/api/importacoes/{importacao.pk}/").json()
    assert (body["status"], body["criados"], body["sem_sku"]) == ("concluida", 2, 1)
    assert dict(Produto.objects.filter(loja=loja).values_list("sku", "estoque_atual")) == {"CAM-P": 8, "CAM-M": 5}


def test_installing_again_updates_the_same_loja(app, browser_client, user):
    callback(browser_client, authorize(app, browser_client))
    call_command("import_catalog", "--once", stdout=io.StringIO())
    first = Loja.objects.get(shop_domain=SHOP)
    r = callback(browser_client, authorize(app, browser_client))
    assert r.status_code == 302
    again = Loja.objects.get(shop_domain=SHOP)
    assert again.pk == first.pk and again.access_token != first.access_token
    call_command("import_catalog", "--once", stdout=io.StringIO())
    assert Produto.objects.filter(loja=again).count() == 2  # nothing new


def refused(r, status: int, words: str):
    text = r.content.decode()
    assert r.status_code == status, text
    assert words in text and "Nada foi alterado" in text and "<h1>Não foi possível conectar a loja</h1>" in text
    assert API_SECRET not in text


def test_bad_hmac_is_refused_and_changes_nothing(app, browser_client):
    url = authorize(app, browser_client)
    params = dict(parse_qsl(urlsplit(url).query))
    before = snapshot()
    forged = {**params, "hmac": "0" * 64}
    refused(callback(browser_client, "/shopify/callback/?" + urlencode(forged)), 403, "assinatura (hmac)")
    tampered = {**params, "shop": "outra-loja.myshopify.com"}  # signed for another shop
    refused(callback(browser_client, "/shopify/callback/?" + urlencode(tampered)), 403, "assinatura (hmac)")
    repeated = callback(browser_client, url + "&shop=outra-loja.myshopify.com")
    refused(repeated, 400, "repete parâmetros")
    assert snapshot() == before
    # the state was not spent by the forgeries: the genuine callback still works
    assert callback(browser_client, url).status_code == 302


def test_reused_state_is_refused(app, browser_client):
    url = authorize(app, browser_client)
    assert callback(browser_client, url).status_code == 302
    before = snapshot()
    refused(callback(browser_client, url), 403, "já foi usado")
    assert snapshot() == before


def test_foreign_state_is_refused(app, browser_client, make_user):
    url = authorize(app, browser_client)  # started in Ana's session
    from django.test import Client

    other = Client()
    other.force_login(make_user("intrusa"))
    before = snapshot()
    refused(callback(other, url), 403, "não foi iniciado nesta sessão")
    assert snapshot() == before
    anonymous = Client()
    refused(callback(anonymous, url), 403, "sessão no ChegouHub terminou")
    assert snapshot() == before


def test_shop_not_myshopify_is_refused(app, browser_client):
    before = snapshot()
    for shop in ("loja.exemplo.com", "loja.myshopify.com.evil.test", "", "LOJA_X.myshopify.com"):
        refused(browser_client.get("/shopify/instalar/", {"shop": shop}), 400, "minha-loja.myshopify.com")
    params = {"shop": "evil.test", "state": "x", "code": "c", "timestamp": "1"}
    refused(browser_client.get("/shopify/callback/", params), 400, "minha-loja.myshopify.com")
    assert snapshot() == before


def test_shopify_refusing_the_code(app, browser_client):
    url = authorize(app, browser_client)
    params = dict(parse_qsl(urlsplit(url).query))
    # the code is spent before our callback gets it (a replayed or intercepted install)
    spent = httpx.post(app.token_url_template.format(shop=SHOP),
                       json={"client_id": API_KEY, "client_secret": API_SECRET, "code": params["code"]})
    assert spent.status_code == 200
    before = snapshot()
    refused(callback(browser_client, url), 400, "A Shopify recusou o código de autorização")
    assert snapshot() == before


def test_a_shop_connected_to_another_account_is_refused(app, browser_client, make_loja, other_user):
    theirs = make_loja(other_user, shop=SHOP)
    Loja.objects.filter(pk=theirs.pk).update(verificado_em=timezone.now())  # Shopify proved it theirs
    before = snapshot()
    refused(browser_client.get("/shopify/instalar/", {"shop": SHOP}), 409, "outra conta")
    assert snapshot() == before


def test_the_install_flow_takes_the_shop_from_a_squatter(app, browser_client, user, make_loja, other_user,
                                                        make_produto):
    """Issue 26 item 2: another account's loja registered with a made-up token used to answer 409 here."""
    squatted = make_loja(other_user, shop=SHOP, token="shpat_inventado")
    make_produto(squatted, "SQ-1")
    r = callback(browser_client, authorize(app, browser_client))
    assert r.status_code == 302
    mine = Loja.objects.get(shop_domain=SHOP)
    assert r["Location"] == f"/?loja={mine.pk}"
    assert mine.owner == user and mine.pk != squatted.pk and mine.ativo and mine.verificado_em is not None
    squatted.refresh_from_db()
    assert not squatted.ativo and squatted.shop_domain != SHOP and squatted.access_token == ""
    assert squatted.owner == other_user and squatted.produtos.count() == 1  # its data stays its user's


def test_a_claim_proven_while_the_merchant_was_on_shopify_wins(app, browser_client, make_loja, other_user):
    """The squatter proves nothing; but a loja of another account verified between the redirect and the
    callback keeps the shop: 409, nothing changed."""
    url = authorize(app, browser_client)
    theirs = make_loja(other_user, shop=SHOP)
    Loja.objects.filter(pk=theirs.pk).update(verificado_em=timezone.now())
    before = snapshot()
    refused(callback(browser_client, url), 409, "outra conta")
    assert snapshot() == before


def test_login_required_and_app_not_configured(app, browser_client, settings):
    from django.test import Client

    r = Client().get("/shopify/instalar/", {"shop": SHOP})
    assert r.status_code == 302 and r["Location"].startswith("/?next=%2Fshopify%2Finstalar%2F")
    settings.SHOPIFY_API_SECRET = ""
    refused(browser_client.get("/shopify/instalar/", {"shop": SHOP}), 503, "não está configurado")


def test_old_callback_is_refused(app, browser_client, monkeypatch):
    url = authorize(app, browser_client)
    from chegouhub.stores import oauth

    monkeypatch.setattr(oauth, "CALLBACK_MAX_AGE_SECONDS", -1000)
    before = snapshot()
    refused(callback(browser_client, url), 403, "vencida")
    assert snapshot() == before
