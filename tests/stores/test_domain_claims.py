"""Domain squatting (issue 15): a loja whose own token never opened its shop does not own the
domain; another user whose token does open it takes the domain over. Against the fake Shopify."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

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
