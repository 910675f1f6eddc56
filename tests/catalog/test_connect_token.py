"""Connecting a loja with a pasted custom-app token: tested against Shopify (the fake, over HTTP)
before anything is saved."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.utils import timezone

from chegouhub.catalog.models import Importacao
from chegouhub.stores.models import Loja

SHOP = "colada.myshopify.com"


def test_a_token_shopify_accepts_is_saved_then_webhooks_and_import_follow(api, user, fake_shopify):
    fake_shopify.add_shop(SHOP, "shpat_colado_valido", name="Loja Colada", bucket_size=20_000, restore_rate=20_000)
    fake_shopify.add_products(SHOP, [{"title": "Caneca", "variants": [{"sku": "CAN-1", "available": 4}]}])
    r = api.post("/api/lojas/conectar/", {"shop_domain": " Colada.myshopify.com ", "access_token": "shpat_colado_valido",
                                          "webhook_secret": "shpss_colado"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["shop"]["nome"] == "Loja Colada" and "access_token" not in body["loja"]
    assert "shpat_colado_valido" not in r.content.decode() and "shpss_colado" not in r.content.decode()
    loja = Loja.objects.get(shop_domain=SHOP)
    assert (loja.owner, loja.nome, loja.access_token, loja.webhook_secret) == (
        user, "Loja Colada", "shpat_colado_valido", "shpss_colado")
    call_command("import_catalog", "--once", stdout=io.StringIO())
    assert Importacao.objects.get(pk=body["importacao_id"]).status == "concluida"
    assert len(fake_shopify.subscriptions(SHOP)) == 4
    assert loja.produtos.get().estoque_atual == 4


def test_a_refused_token_saves_nothing(api, fake_shopify, make_loja, other_user):
    fake_shopify.add_shop(SHOP, "shpat_o_certo")
    r = api.post("/api/lojas/conectar/", {"shop_domain": SHOP, "access_token": "shpat_errado",
                                          "webhook_secret": "x"}, format="json")
    assert r.status_code == 422 and "nada foi salvo" in r.json()["erro"] and "token" in r.json()["erro"]
    assert not Loja.objects.exists() and not Importacao.objects.exists()
    r = api.post("/api/lojas/conectar/", {"shop_domain": "loja.exemplo.com", "access_token": "a",
                                          "webhook_secret": "b"}, format="json")
    assert r.status_code == 400 and "myshopify.com" in r.json()["erro"]
    theirs = make_loja(other_user, shop=SHOP)
    Loja.objects.filter(pk=theirs.pk).update(verificado_em=timezone.now())  # Shopify proved it theirs
    r = api.post("/api/lojas/conectar/", {"shop_domain": SHOP, "access_token": "shpat_o_certo",
                                          "webhook_secret": "b"}, format="json")
    assert r.status_code == 409 and Loja.objects.count() == 1


def test_a_squatters_unverified_loja_gives_way_to_the_real_token(api, user, fake_shopify, make_loja, make_produto,
                                                                 other_user):
    """Issue 26 item 2: a garbage-token registration used to block the real owner with 409."""
    fake_shopify.add_shop(SHOP, "shpat_o_certo", name="Loja Colada")
    squatted = make_loja(other_user, shop=SHOP, token="shpat_inventado")
    make_produto(squatted, "SQ-1")
    r = api.post("/api/lojas/conectar/", {"shop_domain": SHOP, "access_token": "shpat_o_certo",
                                          "webhook_secret": "shpss_colado"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["loja"]["verificado_em"] is not None
    mine = Loja.objects.get(shop_domain=SHOP)
    assert mine.owner == user and mine.pk != squatted.pk and mine.verificado_em is not None
    squatted.refresh_from_db()
    assert not squatted.ativo and squatted.shop_domain != SHOP and squatted.access_token == ""
    assert squatted.produtos.count() == 1  # its data stays its user's


def test_a_token_or_secret_that_cannot_be_one_is_refused_naming_the_field(api, fake_shopify):
    fake_shopify.add_shop(SHOP, "shpat_o_certo")
    for field, value in (("access_token", "shpat_" + "a" * 250), ("access_token", "shpat_ção"),
                         ("webhook_secret", "s" * 256), ("webhook_secret", "segredo\u00e9")):
        body = {"shop_domain": SHOP, "access_token": "shpat_o_certo", "webhook_secret": "shpss_x", field: value}
        r = api.post("/api/lojas/conectar/", body, format="json")
        assert r.status_code == 400, (field, r.content)
        assert list(r.json()["campos"]) == [field]
    assert not Loja.objects.exists()
    ok = {"shop_domain": SHOP, "access_token": "shpat_o_certo", "webhook_secret": "s" * 255}
    assert api.post("/api/lojas/conectar/", ok, format="json").status_code == 201
