"""Domain squatting (issue 15): a loja whose own token never opened its shop does not own the
domain; another user whose token does open it takes the domain over. Against the fake Shopify."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chegouhub.stores import ownership
from chegouhub.stores.models import Loja
from tests.devtools.fake_fixtures import register

DOMAIN = "loja-real.myshopify.com"
REAL_TOKEN = "shpat_real_owner_token_1"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _create(user, token: str, domain: str = DOMAIN):
    return _client(user).post("/api/lojas/", {"nome": "Minha loja", "shop_domain": domain, "access_token": token,
                                              "webhook_secret": "shpss_segredo_1"}, format="json")


@pytest.fixture
def shop(fake_shopify):
    fake_shopify.add_shops([{"shop": DOMAIN, "token": REAL_TOKEN}])
    return fake_shopify


def test_a_squatters_unverified_loja_does_not_block_the_real_owner(shop, user, other_user, make_produto):
    squatter, owner = user, other_user
    r = _create(squatter, "shpat_made_up_token")
    assert r.status_code == 201, r.content
    squatted = Loja.objects.get(pk=r.json()["id"])
    assert squatted.verificado_em is None
    make_produto(squatted, "SQ-1")

    r = _create(owner, REAL_TOKEN)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["shop_domain"] == DOMAIN and body["verificado_em"] is not None
    mine = Loja.objects.get(pk=body["id"])
    assert mine.owner_id == owner.pk and mine.access_token == REAL_TOKEN

    squatted.refresh_from_db()
    assert not squatted.ativo and squatted.shop_domain != DOMAIN and squatted.access_token == ""
    assert squatted.owner_id == squatter.pk and squatted.produtos.count() == 1  # its data stays its user's
    listed = _client(squatter).get("/api/lojas/").json()["results"]
    assert [item["shop_domain"] for item in listed] == [squatted.shop_domain]


def test_a_claim_whose_token_does_not_open_the_shop_is_refused(shop, user, other_user):
    assert _create(user, "shpat_made_up_token").status_code == 201
    r = _create(other_user, "shpat_also_made_up")
    assert r.status_code == 400
    assert "access_token válido" in r.json()["campos"]["shop_domain"][0]
    assert Loja.objects.get(shop_domain=DOMAIN).owner_id == user.pk


def test_a_verified_loja_owns_its_domain(shop, user, other_user):
    r = _create(user, REAL_TOKEN)
    loja_id = r.json()["id"]
    connectivity = _client(user).get(f"/api/sync-realtime/test-connectivity/?loja_id={loja_id}")
    assert connectivity.json()["conectado"] is True
    assert Loja.objects.get(pk=loja_id).verificado_em is not None
    # Even with the right token, another user cannot take a verified loja's domain.
    r = _create(other_user, REAL_TOKEN)
    assert r.status_code == 400
    assert r.json()["campos"]["shop_domain"] == ["Já existe uma loja com este domínio."]


def test_a_failed_connectivity_test_verifies_nothing(shop, user):
    r = _create(user, "shpat_made_up_token")
    loja_id = r.json()["id"]
    assert _client(user).get(f"/api/sync-realtime/test-connectivity/?loja_id={loja_id}").json()["conectado"] is False
    assert Loja.objects.get(pk=loja_id).verificado_em is None


def test_the_same_user_cannot_register_a_domain_twice(shop, user):
    assert _create(user, "shpat_made_up_token").status_code == 201
    r = _create(user, REAL_TOKEN)
    assert r.status_code == 400
    assert r.json()["campos"]["shop_domain"] == ["Já existe uma loja com este domínio."]


def test_a_configured_loja_is_verified(shop, user, make_loja, api):
    loja = make_loja(user, shop=DOMAIN, token=REAL_TOKEN)
    assert api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": "https://sync.exemplo.com"},
                    format="json").status_code == 200
    loja.refresh_from_db()
    assert loja.verificado_em is not None


def test_renaming_onto_a_held_domain_is_refused(shop, user, other_user):
    assert _create(user, "shpat_made_up_token").status_code == 201
    r = _create(other_user, REAL_TOKEN, domain="outra-loja.myshopify.com")
    r = _client(other_user).patch(f"/api/lojas/{r.json()['id']}/", {"shop_domain": DOMAIN}, format="json")
    assert r.status_code == 400
    assert r.json()["campos"]["shop_domain"] == [ownership.DOMAIN_HELD_NEEDS_PROOF]
    assert "conectar" in ownership.DOMAIN_HELD_NEEDS_PROOF  # it names the ways that prove a claim


def test_changing_the_domain_clears_the_proof(shop, user, other_user):
    """Issue 26 item 2: a verified loja renamed to another shop used to keep `verificado_em`, a permanent
    claim on a shop its user never proved."""
    r = _create(user, REAL_TOKEN)
    loja_id = r.json()["id"]
    assert _client(user).get(f"/api/sync-realtime/test-connectivity/?loja_id={loja_id}").json()["conectado"]
    assert _client(user).get(f"/api/lojas/{loja_id}/").json()["verificado_em"] is not None
    r = _client(user).patch(f"/api/lojas/{loja_id}/", {"shop_domain": "loja-alheia.myshopify.com"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["verificado_em"] is None
    # the claim on the other shop is an unproven one: its real owner takes it with its token
    fake = shop
    fake.add_shops([{"shop": "loja-alheia.myshopify.com", "token": "shpat_dono_da_alheia"}])
    r = _create(other_user, "shpat_dono_da_alheia", domain="loja-alheia.myshopify.com")
    assert r.status_code == 201 and r.json()["verificado_em"] is not None
    # a PATCH that keeps the domain keeps the proof
    r = _client(other_user).patch(f"/api/lojas/{r.json()['id']}/", {"nome": "Outro nome",
                                                                     "shop_domain": "loja-alheia.myshopify.com"},
                                  format="json")
    assert r.status_code == 200 and r.json()["verificado_em"] is not None


@pytest.mark.parametrize("field,value", [("access_token", "shpat_" + "a" * 250), ("access_token", "shpat_ção"),
                                         ("webhook_secret", "s" * 256), ("webhook_secret", "segredo\u00e9\u200b")])
def test_a_token_or_secret_that_cannot_be_one_is_refused_naming_the_field(shop, user, field, value):
    body = {"nome": "Minha loja", "shop_domain": DOMAIN, "access_token": REAL_TOKEN, "webhook_secret": "shpss_1",
            field: value}
    r = _client(user).post("/api/lojas/", body, format="json")
    assert r.status_code == 400, r.content
    assert list(r.json()["campos"]) == [field]
    assert not Loja.objects.exists()
    assert _create(user, REAL_TOKEN).status_code == 201
    loja_id = Loja.objects.get().pk
    r = _client(user).patch(f"/api/lojas/{loja_id}/", {field: value}, format="json")
    assert r.status_code == 400 and list(r.json()["campos"]) == [field]


def test_a_stored_token_that_cannot_be_sent_is_a_clear_refusal(shop, user, make_loja, api):
    """Tokens stored before input was checked: /locais/ and configure-webhook-single used to answer 500."""
    loja = make_loja(user, shop=DOMAIN, token="shpat_ção")
    r = api.get(f"/api/lojas/{loja.pk}/locais/")
    assert r.status_code == 400 and "access_token" in r.json()["campos"]
    r = api.post("/api/sync-realtime/configure-webhook-single/",
                 {"loja_id": loja.pk, "base_domain": "https://sync.exemplo.com"}, format="json")
    assert r.status_code == 422, r.content
    assert r.json()["erro_codigo"] == "token_recusado" and "access_token" in r.json()["erro"]
    assert "ção" not in r.content.decode()
    # a new token puts it right
    assert api.patch(f"/api/lojas/{loja.pk}/", {"access_token": REAL_TOKEN}, format="json").status_code == 200
    assert api.get(f"/api/lojas/{loja.pk}/locais/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_every_shopify_call_refuses_a_stored_token_that_cannot_be_sent(shop, user, make_loja):
    """Imports, reconciliation and the pusher build the same client: none may die of a UnicodeEncodeError."""
    import asyncio

    from chegouhub.shopify.admin_api import ShopifyAuthError, fetch_shop
    from chegouhub.shopify.tokens import client_for_loja

    loja = make_loja(user, shop=DOMAIN, token="shpat_ção")

    async def call():
        async with client_for_loja(loja) as client:
            await fetch_shop(client)

    with pytest.raises(ShopifyAuthError) as refused:
        asyncio.run(call())
    assert "access_token" in str(refused.value) and "ção" not in str(refused.value)
    assert refused.value.code == "token_recusado"
