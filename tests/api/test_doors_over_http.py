"""Issue 15 items 3, 6 and 7 over real HTTP, against a server process (the other tests of these
items use Django's test client): the login CSRF from a hostile page, an `api_version` that would
reach the outgoing URL, and input the database cannot hold. Each answer is the one CONTRACT
section 8 states (the issue found 200 with a session cookie, 200, and 503)."""

from __future__ import annotations

import httpx
import pytest

from chegouhub.inventory.models import Produto
from chegouhub.stores.models import Loja

PASSWORD = "senha-forte-123"
EVIL = "https://evil.example"


@pytest.mark.live
@pytest.mark.postgres  # the issue probed PostgreSQL; one server start is enough
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_login_csrf_api_version_and_oversized_input_over_http(live_server_factory, user, loja):
    srv = live_server_factory()
    produto = Produto.objects.create(loja=loja, sku="SKU-1", nome="Camisa", estoque_atual=5)

    # item 3: a hostile page's form-encoded (or JSON) login answers 403 and sets no session cookie
    with httpx.Client(base_url=srv.url, timeout=10) as hostile:
        form = hostile.post("/api/auth/login/", data={"username": "ana", "password": PASSWORD},
                            headers={"Origin": EVIL})
        assert form.status_code == 403, form.text
        as_json = hostile.post("/api/auth/login/", json={"username": "ana", "password": PASSWORD},
                               headers={"Origin": EVIL})
        assert as_json.status_code == 403, as_json.text
        assert not hostile.cookies.get("sessionid")
        assert hostile.get("/api/lojas/").status_code in (401, 403)

    token = httpx.post(f"{srv.url}/api/auth/token/", json={"username": "ana", "password": PASSWORD}).json()["token"]
    with httpx.Client(base_url=srv.url, timeout=10, headers={"Authorization": f"Token {token}"}) as api:
        # item 6: an api_version that is not a Shopify release never gets stored (nor into a URL)
        r = api.patch(f"/api/lojas/{loja.pk}/", json={"api_version": "../../../x"})
        assert r.status_code == 400 and "api_version" in r.json()["campos"], r.text
        assert Loja.objects.get(pk=loja.pk).api_version == ""

        # item 7: 400 naming the field, never 503 "Erro de banco de dados."
        r = api.get("/api/estoque/produtos/?search=%00")
        assert r.status_code == 400 and "search" in r.json()["campos"], r.text
        for quantidade in (2**40, 2**63):  # a movement has its own limit, below the column's
            r = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/",
                         json={"quantidade": quantidade, "motivo": "x"})
            assert r.status_code == 400 and "quantidade" in r.json()["campos"], r.text
        r = api.post("/api/estoque/produtos/", json={"loja_id": loja.pk, "sku": "S", "nome": "N",
                                                     "estoque_minimo": 2**63})
        assert r.status_code == 400 and "estoque_minimo" in r.json()["campos"], r.text
        assert Produto.objects.get(pk=produto.pk).estoque_atual == 5
        # the estoque_minimo of 2**40 fits the 64-bit stock columns: stored exactly
        r = api.post("/api/estoque/produtos/", json={"loja_id": loja.pk, "sku": "S2", "nome": "N",
                                                     "estoque_minimo": 2**40})
        assert r.status_code == 201 and r.json()["estoque_minimo"] == 2**40, r.text
