"""The two kinds of token (docs/tokens.md) and a supported API version (CONTRACT 9): a token Shopify
refuses before its expiry is renewed once and the call retried; a lost refresh answer is survived;
the install flow's older non-expiring tokens are listed and flagged; pasted tokens stay as they are;
an API version past twelve months warns."""

from __future__ import annotations

import importlib
import io
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from chegouhub.stores.models import Loja, OrigemToken
from tests.catalog.test_install import API_KEY, API_SECRET, authorize, callback

SHOP = "loja-tipos.myshopify.com"


@pytest.fixture
def short_tokens(fake_shopify, settings):
    fake_shopify.add_app(API_KEY, API_SECRET, token_lifetime=1)
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, API_SECRET
    settings.SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE = fake_shopify.authorize_url_template
    settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE = fake_shopify.token_url_template
    settings.SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS = 0.2  # scaled down with the lifetime
    fake_shopify.add_shop(SHOP, "")
    return fake_shopify


def installed(fake, client, user) -> Loja:
    client.force_login(user)
    assert callback(client, authorize(fake, client, SHOP)).status_code == 302
    return Loja.objects.get(shop_domain=SHOP)


@pytest.mark.django_db(transaction=True)
def test_a_401_renews_the_token_once_and_retries_and_a_lost_refresh_answer_is_survived(short_tokens, client, user,
                                                                                        api):
    fake = short_tokens
    loja = installed(fake, client, user)
    # Our clock says the token is good for an hour; Shopify's lifetime (1 s) is over: it answers 401.
    Loja.objects.filter(pk=loja.pk).update(token_expira_em=timezone.now() + timedelta(hours=1))
    time.sleep(1.1)
    r = api.get(f"/api/lojas/{loja.pk}/locais/")
    assert r.status_code == 200, r.content
    assert r.json()["locais"][0]["id"].startswith("gid://shopify/Location/")
    counters = fake.counters(SHOP)
    assert (counters["expired_token_calls"], counters["token_refreshes"]) == (1, 1)
    renewed = Loja.objects.get(pk=loja.pk)
    assert renewed.access_token != loja.access_token and renewed.refresh_token != loja.refresh_token

    # A refresh whose answer never reached us: the stored refresh token is the one it replaced.
    lost = fake.http.post(f"/{SHOP}/admin/oauth/access_token", json={
        "client_id": API_KEY, "client_secret": API_SECRET, "grant_type": "refresh_token",
        "refresh_token": renewed.refresh_token})
    assert lost.status_code == 200
    time.sleep(1.1)
    assert api.get(f"/api/lojas/{loja.pk}/locais/").status_code == 200  # Shopify kept ours valid
    counters = fake.counters(SHOP)
    assert (counters["refreshes_with_previous_token"], counters["refreshes_refused"]) == (1, 0)
    assert Loja.objects.get(pk=loja.pk).reconectar_desde is None


@pytest.mark.django_db
def test_older_install_tokens_are_listed_and_flagged_and_pasted_ones_stay(make_loja, user, client, api, settings):
    legado = make_loja(user, shop="legado.myshopify.com", token="shpat_legado_0001")
    Loja.objects.filter(pk=legado.pk).update(origem_token=OrigemToken.INSTALACAO)
    colado = make_loja(user, shop="colado.myshopify.com", token="shpat_colado_0001")
    expira = make_loja(user, shop="expira.myshopify.com", token="shpat_expira_0001")
    expira.origem_token, expira.refresh_token = OrigemToken.INSTALACAO, "shprt_expira_0001"
    expira.token_expira_em = timezone.now() + timedelta(hours=1)
    expira.save()

    out = io.StringIO()
    call_command("list_permanent_tokens", stdout=out)
    text = out.getvalue()
    assert "legado.myshopify.com" in text and "2027-01-01" in text and "/shopify/instalar/?shop=legado" in text
    assert "colado.myshopify.com" not in text and "expira.myshopify.com" not in text
    assert "shpat_legado_0001" not in text

    kinds = {b["shop_domain"]: (b["estado_conexao"], b["tipo_token"], b["token_expira_em"] is not None)
             for b in api.get("/api/lojas/").json()["results"]}
    assert kinds == {"legado.myshopify.com": ("ok", "permanente_instalacao", False),
                     "colado.myshopify.com": ("token_permanente", "app_personalizado", False),
                     "expira.myshopify.com": ("ok", "expiravel", True)}

    client.force_login(user)
    page = client.get("/lojas/").content.decode()
    assert "Para de funcionar em 01/01/2027" in page and "Token de app personalizado" in page
    assert "Token expirável" in page
    assert f'href="/shopify/instalar/?shop=legado.myshopify.com" data-loja-id="{legado.pk}">Reconectar' in page
    assert f'href="/shopify/instalar/?shop=colado.myshopify.com" data-loja-id="{colado.pk}" hidden>' in page


@pytest.mark.django_db
def test_existing_lojas_are_told_apart_by_the_app_secret_when_migrating(make_loja, user, settings):
    settings.SHOPIFY_API_SECRET = "shpss_segredo_do_app"
    by_install = make_loja(user, secret="shpss_segredo_do_app")
    pasted = make_loja(user, secret="shpss_segredo_do_app_da_loja")
    migration = importlib.import_module("chegouhub.stores.migrations.0006_loja_expiring_tokens")
    migration.origin_from_secret(django_apps, None)
    assert Loja.objects.get(pk=by_install.pk).origem_token == "instalacao"
    assert Loja.objects.get(pk=pasted.pk).origem_token == "colado"


@pytest.mark.django_db
def test_an_api_version_past_twelve_months_warns_and_shows_in_the_status(settings, api, make_loja, user):
    assert settings.SHOPIFY_API_VERSION == "2026-10"
    assert not [w for w in run_checks(tags=["shopify"]) if w.id == "chegouhub.W001"]
    body = api.get("/api/sync-realtime/status/").json()
    assert (body["versao_api"], body["versao_api_suportada"]) == ("2026-10", True)

    loja = make_loja(user)
    Loja.objects.filter(pk=loja.pk).update(api_version="2025-07")
    assert api.get("/api/sync-realtime/status/").json()["versao_api_suportada"] is False
    warnings = run_checks(tags=["shopify"], databases=["default"])
    assert [w.id for w in warnings] == ["chegouhub.W002"] and "2025-07" in warnings[0].msg

    Loja.objects.filter(pk=loja.pk).update(api_version="")
    settings.SHOPIFY_API_VERSION = "2025-10"
    assert [w.id for w in run_checks(tags=["shopify"])] == ["chegouhub.W001"]
    assert api.get("/api/sync-realtime/status/").json()["versao_api_suportada"] is False


@pytest.mark.django_db(transaction=True)
def test_a_token_pasted_over_an_install_token_stays_the_lojas_token(short_tokens, client, user, api):
    # A merchant who pastes a custom app's token on a loja connected by the install flow: the install's
    # refresh token must go with the old token, or the next renewal would overwrite what was pasted.
    fake = short_tokens
    loja = installed(fake, client, user)
    assert loja.refresh_token and loja.token_expira_em is not None
    fake.add_shop(SHOP, "shpat_colado")
    r = api.patch(f"/api/lojas/{loja.pk}/", {"access_token": "shpat_colado"}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["tipo_token"], r.json()["estado_conexao"], r.json()["token_expira_em"]) == \
        ("app_personalizado", "token_permanente", None)
    time.sleep(1.1)  # past the install token's lifetime: nothing is renewed over the pasted token
    assert api.get(f"/api/lojas/{loja.pk}/locais/").status_code == 200
    assert fake.counters(SHOP)["token_refreshes"] == 0
    assert Loja.objects.get(pk=loja.pk).access_token == "shpat_colado"
