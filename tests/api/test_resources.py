"""CONTRACT sections 2 and 3: authentication and the resources."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.stores.models import Loja

pytestmark = pytest.mark.django_db


def test_token_login_then_token_auth(user):
    client = APIClient()
    r = client.post("/api/auth/token/", {"username": "ana", "password": "senha-forte-123"}, format="json")
    assert r.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
    assert client.get("/api/lojas/").status_code == 200


def test_wrong_password_is_a_clear_400(user):
    r = APIClient().post("/api/auth/token/", {"username": "ana", "password": "x"}, format="json")
    assert r.status_code == 400
    assert r.json() == {"erro": "Usuário ou senha inválidos."}


def test_unauthenticated_api_is_refused():
    assert APIClient().get("/api/lojas/").status_code in (401, 403)


def test_session_login_needs_csrf_for_unsafe_requests(user, loja):
    client = APIClient(enforce_csrf_checks=True)
    r = client.post("/api/auth/login/", {"username": "ana", "password": "senha-forte-123"}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "ana" and body["session_key"]
    assert client.get("/api/lojas/").status_code == 200
    no_csrf = client.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "A", "nome": "a"}, format="json")
    assert no_csrf.status_code == 403
    token = client.cookies["csrftoken"].value
    ok = client.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "A", "nome": "a"}, format="json",
                     HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value).status_code == 204
    assert client.get("/api/lojas/").status_code in (401, 403)


def test_loja_credentials_are_write_only_and_encrypted_at_rest(api, user):
    r = api.post("/api/lojas/", {"nome": "Minha", "shop_domain": "Minha-Loja.myshopify.com",
                                 "access_token": "shpat_canary_123456", "webhook_secret": "whsec_canary_654321"},
                 format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert "access_token" not in body and "webhook_secret" not in body
    assert body["shop_domain"] == "minha-loja.myshopify.com"
    assert body["webhook_status"] == "nao_configurado"
    assert "canary" not in api.get(f"/api/lojas/{body['id']}/").content.decode()
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT access_token, webhook_secret FROM stores_loja WHERE id = %s", [body["id"]])
        raw_token, raw_secret = c.fetchone()
    assert "canary" not in raw_token and "canary" not in raw_secret
    loja = Loja.objects.get(pk=body["id"])
    assert (loja.access_token, loja.webhook_secret) == ("shpat_canary_123456", "whsec_canary_654321")


def test_loja_domain_must_be_myshopify_and_unique(api, loja):
    r = api.post("/api/lojas/", {"nome": "x", "shop_domain": "evil.example.com"}, format="json")
    assert r.status_code == 400
    assert "shop_domain" in r.json()["campos"]
    dup = api.post("/api/lojas/", {"nome": "x", "shop_domain": loja.shop_domain}, format="json")
    assert dup.status_code == 400


def test_produto_create_with_initial_stock_records_a_movement(api, loja):
    r = api.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "CAM-1", "nome": "Camisa",
                                            "estoque_atual": 12, "estoque_minimo": 3}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["estoque_atual"], body["estoque_minimo"], body["loja_id"]) == (12, 3, loja.pk)
    (mov,) = Movimentacao.objects.filter(produto_id=body["id"])
    assert (mov.origem, mov.quantidade, mov.estoque_anterior, mov.estoque_atual) == ("inicial", 12, 0, 12)


def test_estoque_atual_is_read_only_after_create(api, loja, make_produto):
    p = make_produto(loja, "A", estoque=5)
    r = api.patch(f"/api/estoque/produtos/{p.pk}/", {"estoque_atual": 999, "nome": "Novo"}, format="json")
    assert r.status_code == 200
    assert r.json()["estoque_atual"] == 5 and r.json()["nome"] == "Novo"


def test_sku_unique_per_loja_with_clear_error(api, loja, make_produto, make_loja, user):
    make_produto(loja, "DUP")
    r = api.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "DUP", "nome": "x"}, format="json")
    assert r.status_code == 400 and "sku" in r.json()["campos"]
    other = make_loja(user)
    assert api.post("/api/estoque/produtos/", {"loja_id": other.pk, "sku": "DUP", "nome": "x"},
                    format="json").status_code == 201


def test_produto_search_and_filter(api, loja, make_produto, make_loja, user):
    make_produto(loja, "CAM-AZUL", nome="Camisa azul")
    make_produto(loja, "BONE", nome="Boné vermelho")
    other = make_loja(user)
    make_produto(other, "CAM-VERDE", nome="Camisa verde")
    skus = lambda url: sorted(p["sku"] for p in api.get(url).json()["results"])  # noqa: E731
    assert skus("/api/estoque/produtos/?search=cam") == ["CAM-AZUL", "CAM-VERDE"]
    assert skus("/api/estoque/produtos/?search=vermelho") == ["BONE"]
    assert skus(f"/api/estoque/produtos/?loja_id={loja.pk}") == ["BONE", "CAM-AZUL"]
    r = api.get("/api/estoque/produtos/")
    assert set(r.json()) == {"count", "next", "previous", "results"}
    assert api.get("/api/estoque/produtos/?loja_id=abc").status_code == 400


def test_manual_movement(api, loja, make_produto):
    p = make_produto(loja, "A", estoque=5)
    r = api.post(f"/api/estoque/produtos/{p.pk}/movimentacoes/", {"quantidade": -2, "motivo": "avaria"},
                 format="json")
    assert r.status_code == 201
    body = r.json()
    assert (body["quantidade"], body["estoque_anterior"], body["estoque_atual"], body["origem"]) == (-2, 5, 3, "manual")
    assert Produto.objects.get(pk=p.pk).estoque_atual == 3
    zero = api.post(f"/api/estoque/produtos/{p.pk}/movimentacoes/", {"quantidade": 0, "motivo": "x"}, format="json")
    assert zero.status_code == 400 and "quantidade" in zero.json()["campos"]
    listed = api.get(f"/api/estoque/movimentacoes/?produto_id={p.pk}&origem=manual").json()
    assert len(listed["results"]) == 1 and listed["next"] is None  # paged by cursor: no count (CONTRACT 3)
    assert api.get("/api/estoque/movimentacoes/?origem=bogus").status_code == 400


def test_mapeamentos_validate_loja_and_uniqueness(api, loja, make_produto, make_loja, user):
    p = make_produto(loja, "INT-1")
    r = api.post("/api/estoque/mapeamentos/", {"loja_id": loja.pk, "shopify_sku": "SHOP-1", "produto_id": p.pk},
                 format="json")
    assert r.status_code == 201
    assert r.json() == {"id": r.json()["id"], "loja_id": loja.pk, "shopify_sku": "SHOP-1", "produto_id": p.pk}
    dup = api.post("/api/estoque/mapeamentos/", {"loja_id": loja.pk, "shopify_sku": "SHOP-1", "produto_id": p.pk},
                   format="json")
    assert dup.status_code == 400
    other = make_loja(user)
    cross = api.post("/api/estoque/mapeamentos/", {"loja_id": other.pk, "shopify_sku": "S", "produto_id": p.pk},
                     format="json")
    assert cross.status_code == 400 and "produto_id" in cross.json()["campos"]


def test_alertas_filters(api, loja, make_produto):
    from chegouhub.inventory.services import adjust_stock

    p = make_produto(loja, "A", estoque=5, minimo=2)
    adjust_stock(produto=p, quantidade=-5, motivo="x")
    r = api.get(f"/api/estoque/alertas/?loja_id={loja.pk}&status=ativo").json()
    assert [a["tipo"] for a in r["results"]] == ["estoque_zerado"]
    assert r["results"][0]["prioridade"] == "critica"
    assert api.get("/api/estoque/alertas/?status=resolvido").json()["results"] == []  # by cursor: no count
    assert api.get("/api/estoque/alertas/?status=x").status_code == 400
