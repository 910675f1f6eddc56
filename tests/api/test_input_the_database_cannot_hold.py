"""Input the database cannot hold answers 400 naming the field, never 503 (CONTRACT section 8,
issue 15 item 7); 503 means the database is unreachable. On both databases."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, OperationalError

from chegouhub.common.validation import column_range
from chegouhub.inventory.models import Produto

INT64_MAX = 2**63 - 1
ESTOQUE_MAX = column_range(Produto, "estoque_atual")[1]  # 64-bit once the column is a BigIntegerField


@pytest.mark.parametrize("query", ["search=%00", "search=a%00b", "search=%01x", "loja_id=%00", "origem=%00",
                                   "x%00=1"])
def test_nul_and_control_characters_in_query_parameters_are_400_naming_the_parameter(api, loja, query):
    for path in ("/api/estoque/produtos/", "/api/estoque/movimentacoes/", "/api/lojas/"):
        r = api.get(f"{path}?{query}")
        assert r.status_code == 400, (path, query, r.content)
        body = r.json()
        name = query.split("=")[0].replace("%00", "\\x00")
        assert name in body["campos"], body


def test_a_plain_search_still_works(api, loja, make_produto):
    make_produto(loja, "CAMISA-01", nome="Camisa azul")
    r = api.get("/api/estoque/produtos/?search=camisa")
    assert r.status_code == 200 and r.json()["count"] == 1


@pytest.mark.parametrize("value", [2**40, 2**63, -(2**40), 10**30])
def test_a_movement_beyond_the_limit_is_400_naming_quantidade(api, loja, make_produto, value):
    produto = make_produto(loja, "SKU-1", estoque=5)
    r = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": value, "motivo": "x"},
                 format="json")
    assert r.status_code == 400, r.content
    assert "quantidade" in r.json()["campos"]
    produto.refresh_from_db()
    assert produto.estoque_atual == 5


def test_a_movement_that_would_overflow_the_stock_column_is_400(api, loja, make_produto):
    produto = make_produto(loja, "SKU-1", estoque=0)
    Produto.objects.filter(pk=produto.pk).update(estoque_atual=ESTOQUE_MAX - 10)
    r = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": 11, "motivo": "x"},
                 format="json")
    assert r.status_code == 400, r.content
    assert "quantidade" in r.json()["campos"]
    ok = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": 10, "motivo": "x"},
                  format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["estoque_atual"] == ESTOQUE_MAX


@pytest.mark.parametrize("field", ["estoque_minimo", "estoque_atual"])
@pytest.mark.parametrize("value", [ESTOQUE_MAX + 1, 2**63, 10**30])
def test_a_produto_with_a_stock_value_beyond_its_column_is_400_naming_the_field(api, loja, field, value):
    r = api.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "S", "nome": "N", field: value}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["campos"]
    assert not Produto.objects.exists()


def test_2_to_the_40_estoque_minimo_is_400_or_stored_exactly(api, loja):
    """The issue's case: on a 32-bit column it is refused naming the field; on a 64-bit one it fits."""
    r = api.post("/api/estoque/produtos/", {"loja_id": loja.pk, "sku": "S", "nome": "N", "estoque_minimo": 2**40},
                 format="json")
    if ESTOQUE_MAX < 2**40:
        assert r.status_code == 400 and "estoque_minimo" in r.json()["campos"]
    else:
        assert r.status_code == 201 and r.json()["estoque_minimo"] == 2**40


@pytest.mark.parametrize("payload", [{"sku": "A\x00B"}, {"nome": "x\x00"}, {"sku": "A\x07"}, {"nome": "a\nb"}])
def test_nul_and_control_characters_in_string_fields_are_400_naming_the_field(api, loja, payload):
    body = {"loja_id": loja.pk, "sku": "OK", "nome": "OK", **payload}
    r = api.post("/api/estoque/produtos/", body, format="json")
    assert r.status_code == 400, r.content
    assert set(payload) <= set(r.json()["campos"])


def test_control_characters_elsewhere(api, loja, make_produto):
    produto = make_produto(loja, "SKU-1")
    r = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": 1, "motivo": "a\x00"},
                 format="json")
    assert r.status_code == 400 and "motivo" in r.json()["campos"]
    ok = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": 1, "motivo": "linha 1\nlinha 2"},
                  format="json")
    assert ok.status_code == 201
    r = api.post("/api/estoque/mapeamentos/", {"loja_id": loja.pk, "produto_id": produto.pk, "shopify_sku": "X\x00"},
                 format="json")
    assert r.status_code == 400 and "shopify_sku" in r.json()["campos"]
    r = api.patch(f"/api/lojas/{loja.pk}/", {"nome": "Loja\x00"}, format="json")
    assert r.status_code == 400 and "nome" in r.json()["campos"]


@pytest.mark.parametrize("query", [f"loja_id={2**63}", f"produto_id={10**30}", f"loja_id=-{2**64}"])
def test_ids_beyond_64_bits_in_filters_are_400(api, loja, query):
    r = api.get(f"/api/estoque/movimentacoes/?{query}")
    assert r.status_code == 400, r.content
    assert query.split("=")[0] in r.json()["campos"]


@pytest.mark.parametrize("query", [f"since={2**63}", f"since={2**70}", f"loja_id={2**70}"])
def test_huge_cursors_and_ids_elsewhere_are_400_naming_the_parameter(api, loja, query):
    r = api.get(f"/api/sync-realtime/events/?{query}")
    assert r.status_code == 400, r.content
    assert query.split("=")[0] in r.json()["campos"]
    r = api.get(f"/api/sync-realtime/test-connectivity/?loja_id={2**70}")
    assert r.status_code == 400 and "loja_id" in r.json()["campos"]


def test_huge_ids_in_bodies_are_not_found_not_an_error(api, loja):
    r = api.post("/api/estoque/mapeamentos/", {"loja_id": 2**70, "produto_id": 2**70, "shopify_sku": "X"},
                 format="json")
    assert r.status_code == 400 and {"loja_id", "produto_id"} <= set(r.json()["campos"])


def test_503_means_the_database_is_unreachable_and_other_database_errors_are_not_503(api, loja, monkeypatch):
    from chegouhub.stores import views

    for exc, expected in ((OperationalError("connection refused"), 503), (DataError("out of range"), 400),
                          (IntegrityError("duplicate key"), 409)):
        def boom(self, exc=exc):
            raise exc

        monkeypatch.setattr(views.LojaViewSet, "get_queryset", boom)
        r = api.get("/api/lojas/")
        assert r.status_code == expected, (exc, r.content)
        assert r.json()["erro"]
