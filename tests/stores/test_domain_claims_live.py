"""Issue 26 item 2 over real HTTP, against a server process and the fake Shopify: a squatter who
registered a shop with a made-up token loses it to the install flow and to `/api/lojas/conectar/`
with the shop's real token (both answered 409 before), a PATCH of the domain drops the proof, and a
verified loja of another account still blocks. Token and secret format (item 6) on the same doors."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from chegouhub.stores.models import Loja

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

PASSWORD = "senha-forte-123"
API_KEY, API_SECRET = "chegouhub-app-posse", "shpss_segredo_do_app_posse"
INSTALLED, PASTED = "loja-instalada-real.myshopify.com", "loja-colada-real.myshopify.com"
PASTED_TOKEN = "shpat_token_verdadeiro_da_colada"


@pytest.fixture
def server(live_server_factory, fake_shopify):
    fake_shopify.add_app(API_KEY, API_SECRET)
    fake_shopify.add_shop(INSTALLED, "", name="Loja Instalada")
    fake_shopify.add_shop(PASTED, PASTED_TOKEN, name="Loja Colada")
    return live_server_factory(env={
        "SHOPIFY_ADMIN_URL_TEMPLATE": fake_shopify.admin_url_template,
        "SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE": fake_shopify.authorize_url_template,
        "SHOPIFY_OAUTH_TOKEN_TEMPLATE": fake_shopify.token_url_template,
        "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
    })


def _api(server, username: str) -> httpx.Client:
    token = httpx.post(f"{server.url}/api/auth/token/", json={"username": username, "password": PASSWORD},
                       timeout=10).json()["token"]
    return httpx.Client(base_url=server.url, timeout=20, headers={"Authorization": f"Token {token}"})


def _install(server, fake, username: str, shop: str) -> httpx.Response:
    """Log in, /shopify/instalar/, "Instalar app" on the fake's page, then the callback it sends."""
    browser = httpx.Client(base_url=server.url, timeout=20)
    login = browser.post("/api/auth/login/", json={"username": username, "password": PASSWORD},
                         headers={"Origin": server.url})
    assert login.status_code == 200, login.text
    r = browser.get("/shopify/instalar/", params={"shop": shop})
    assert r.status_code == 302, r.text
    query = dict(parse_qsl(urlsplit(r.headers["location"]).query))
    confirm = httpx.post(f"{fake.url}/{shop}/admin/oauth/authorize/confirm", timeout=10,
                         data={k: query[k] for k in ("client_id", "scope", "redirect_uri", "state")})
    assert confirm.status_code == 302
    back = urlsplit(confirm.headers["location"])
    return browser.get(f"{back.path}?{back.query}")


def _squat(client: httpx.Client, shop: str) -> dict:
    r = client.post("/api/lojas/", json={"nome": "Loja de outro", "shop_domain": shop,
                                         "access_token": "shpat_inventado", "webhook_secret": "shpss_inventado"})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_squatter_loses_the_shop_to_its_proven_owner_on_every_door(server, fake_shopify, make_user):
    for name in ("posseiro", "dona", "terceira"):
        make_user(name, password=PASSWORD)
    squatter, owner, third = _api(server, "posseiro"), _api(server, "dona"), _api(server, "terceira")
    squatted = [_squat(squatter, INSTALLED), _squat(squatter, PASTED)]

    # The install flow: the redirect is not refused, and the code exchange takes the shop over.
    r = _install(server, fake_shopify, "dona", INSTALLED)
    assert r.status_code == 302 and r.headers["location"].startswith("/?loja="), r.text
    installed = Loja.objects.get(shop_domain=INSTALLED)
    assert installed.owner.username == "dona" and installed.verificado_em is not None

    # A pasted token that opens the shop does too.
    r = owner.post("/api/lojas/conectar/", json={"shop_domain": PASTED, "access_token": PASTED_TOKEN,
                                                  "webhook_secret": "shpss_da_dona"})
    assert r.status_code == 201, r.text
    assert r.json()["loja"]["verificado_em"] is not None
    pasted_id = r.json()["loja"]["id"]

    # The squatter keeps its lojas and their data, deactivated under names no shop has.
    mine = {loja["id"]: loja for loja in squatter.get("/api/lojas/").json()["results"]}
    assert set(mine) == {loja["id"] for loja in squatted}
    assert all(not loja["ativo"] and loja["shop_domain"] not in (INSTALLED, PASTED) for loja in mine.values())

    # Verified now: nobody else takes them, by any door.
    r = third.post("/api/lojas/conectar/", json={"shop_domain": PASTED, "access_token": PASTED_TOKEN,
                                                  "webhook_secret": "shpss_terceira"})
    assert r.status_code == 409, r.text
    r = third.post("/api/lojas/", json={"nome": "x", "shop_domain": PASTED, "access_token": PASTED_TOKEN})
    assert r.status_code == 400 and "shop_domain" in r.json()["campos"], r.text
    blocked = httpx.Client(base_url=server.url, timeout=20)
    blocked.post("/api/auth/login/", json={"username": "terceira", "password": PASSWORD},
                 headers={"Origin": server.url})
    assert blocked.get("/shopify/instalar/", params={"shop": INSTALLED}).status_code == 409

    # Moving a verified loja to another domain drops the proof: no permanent claim on a shop never proven.
    r = owner.patch(f"/api/lojas/{pasted_id}/", json={"shop_domain": "outra-loja-qualquer.myshopify.com"})
    assert r.status_code == 200 and r.json()["verificado_em"] is None, r.text


def test_tokens_and_secrets_have_a_format_and_a_limit(server, make_user):
    make_user("dona", password=PASSWORD)
    owner = _api(server, "dona")
    for field, value in (("access_token", "shpat_" + "x" * 250), ("access_token", "shpat_ação"),
                         ("webhook_secret", "s" * 900_000)):
        body = {"shop_domain": PASTED, "access_token": PASTED_TOKEN, "webhook_secret": "shpss_x", field: value}
        for path, extra in (("/api/lojas/conectar/", {}), ("/api/lojas/", {"nome": "x"})):
            r = owner.post(path, json={**extra, **body})  # 900 kB is under the body limit: the field says no
            assert r.status_code == 400 and list(r.json()["campos"]) == [field], r.text[:300]
    assert not Loja.objects.exists()
