"""Catalog import (CONTRACT section 9), through the API and the worker command, against the fake
Shopify over real HTTP: pages and bulk, re-import, variants without SKU, hard throttling, and a
token revoked mid-import."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from chegouhub.catalog import services
from chegouhub.catalog.models import Importacao, VarianteShopify
from chegouhub.inventory.models import Mapeamento, Movimentacao, Produto
from chegouhub.inventory.services import adjust_stock
from tests.devtools.fake_fixtures import register

# A roomy bucket for the tests about what is imported (the throttle has its own test): 250 a page.
ROOMY = {"bucket_size": 20_000, "restore_rate": 20_000}


def start_import(api, loja) -> int:
    r = api.post(f"/api/lojas/{loja.pk}/importar-catalogo/")
    assert r.status_code == 202, r.content
    return r.json()["importacao_id"]


def run_worker() -> str:
    out = io.StringIO()
    call_command("import_catalog", "--once", stdout=out)
    return out.getvalue()


def importacao(api, pk: int) -> dict:
    r = api.get(f"/api/importacoes/{pk}/")
    assert r.status_code == 200
    return r.json()


def shopify_variants(fake, loja) -> dict[str, dict]:
    return {v["sku"]: v for v in fake.catalog(loja.shop_domain)["variants"] if v["sku"]}


def events_of(api, type_: str) -> list[dict]:
    """Every event of a type the user's sockets would get (the polling API, followed to its end)."""
    found, since = [], 0
    while True:
        body = api.get(f"/api/sync-realtime/events/?since={since}&limit=1000").json()
        found += [e for e in body["events"] if e["type"] == type_]
        if not body["events"]:
            return found
        since = body["last_id"]


@pytest.fixture
def shop(fake_shopify, loja):
    register(fake_shopify, [loja], **ROOMY)
    return fake_shopify


def test_2000_variants_over_several_pages(api, loja, shop, make_produto):
    shop.generate_catalog(loja.shop_domain, 2000, per_product=4, sem_sku_every=100)
    # one SKU the loja already has, one a mapeamento names: linked, their stock untouched
    existing = make_produto(loja, "SKU-000001", estoque=7)
    mapped = make_produto(loja, "CAMISETA-LOCAL", estoque=3)
    Mapeamento.objects.create(loja=loja, shopify_sku="SKU-000002", produto=mapped)

    pk = start_import(api, loja)
    assert importacao(api, pk)["status"] == "na_fila"  # the request did not wait on Shopify
    assert shop.shop(loja.shop_domain)["stats"]["requests"] == 0
    output = run_worker()
    assert f"Importação {pk}" in output and "concluida" in output

    body = importacao(api, pk)
    assert body["status"] == "concluida" and body["modo"] == "paginas"
    assert (body["total"], body["processados"], body["sem_sku"]) == (2000, 2000, 20)
    assert (body["criados"], body["vinculados"]) == (1978, 2)
    assert body["erros"] == [] and body["iniciada_em"] and body["concluida_em"]
    stats = shop.shop(loja.shop_domain)["stats"]
    assert stats["requests"] == 2 + 8  # primary location, count, then 8 pages of 250
    assert body["requisicoes"] == stats["requests"] and body["custo"] > 2000 * 4 * 0.9

    loja.refresh_from_db()
    assert loja.location_id == shop.catalog(loja.shop_domain)["locations"][0]["id"]  # the primary
    existing.refresh_from_db()
    mapped.refresh_from_db()
    assert (existing.estoque_atual, mapped.estoque_atual) == (7, 3)
    remote = shopify_variants(shop, loja)
    created = Produto.objects.get(loja=loja, sku="SKU-000005")
    assert created.estoque_atual == remote["SKU-000005"]["available"]
    assert created.nome == remote["SKU-000005"]["display_name"] == "Produto SKU 000005 - P"
    movement = Movimentacao.objects.get(produto=created)
    assert (movement.origem, movement.estoque_anterior) == ("importacao", 0)

    links = api.get(f"/api/estoque/variantes/?loja_id={loja.pk}&page_size=5").json()
    assert links["count"] == 1980
    first = api.get(f"/api/estoque/variantes/?loja_id={loja.pk}&search=SKU-000002").json()["results"][0]
    assert first["produto_id"] == mapped.pk and first["shopify_variant_id"] == remote["SKU-000002"]["id"]
    assert first["inventory_item_id"] == remote["SKU-000002"]["inventory_item_id"]
    assert first["shopify_disponivel"] == remote["SKU-000002"]["available"] and first["sincronizado_em"]
    assert set(first) == {"id", "loja_id", "produto_id", "shopify_variant_id", "inventory_item_id", "sku", "titulo",
                          "shopify_disponivel", "sincronizado_em"}

    (event,) = events_of(api, "catalogo_importado")
    assert event["data"] == {"loja_id": loja.pk, "importacao_id": pk, "criados": 1978, "vinculados": 2, "sem_sku": 20}
    # progress on the notifications socket while it ran: one event per batch, growing to the total
    progress = [e["data"]["processados"] for e in events_of(api, "importacao_progresso")]
    assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] == 2000
    assert all(e["data"]["total"] == 2000 for e in events_of(api, "importacao_progresso"))


def test_2000_variants_as_a_bulk_operation(api, loja, shop, settings):
    settings.CATALOG_BULK_THRESHOLD = 1000
    shop.generate_catalog(loja.shop_domain, 2000, per_product=5, sem_sku_every=250)
    pk = start_import(api, loja)
    run_worker()
    body = importacao(api, pk)
    assert body["status"] == "concluida" and body["modo"] == "bulk"
    assert (body["processados"], body["criados"], body["vinculados"], body["sem_sku"]) == (2000, 1992, 0, 8)
    assert VarianteShopify.objects.filter(loja=loja).count() == 1992
    remote = shopify_variants(shop, loja)
    assert {p.sku: p.estoque_atual for p in Produto.objects.filter(loja=loja)} == {
        sku: v["available"] for sku, v in remote.items()}
    # location, count, the bulk mutation and a few polls: not one request per page
    assert body["requisicoes"] < 12 and body["custo"] < 100


def test_reimport_creates_nothing_and_never_overwrites_stock(api, loja, shop):
    shop.generate_catalog(loja.shop_domain, 600, per_product=3, sem_sku_every=50)
    first = start_import(api, loja)
    run_worker()
    produto = Produto.objects.get(loja=loja, sku="SKU-000001")
    adjust_stock(produto=produto, quantidade=+25, motivo="Recebimento")  # ChegouHub's stock moved on
    produto.refresh_from_db()
    Produto.objects.filter(pk=produto.pk).update(nome="Camiseta renomeada aqui")
    before = (Produto.objects.count(), VarianteShopify.objects.count(), Movimentacao.objects.count())
    stock = dict(Produto.objects.values_list("sku", "estoque_atual"))

    second = start_import(api, loja)
    assert second != first
    run_worker()
    body = importacao(api, second)
    assert body["status"] == "concluida"
    assert (body["criados"], body["vinculados"], body["sem_sku"]) == (0, 588, 12)
    assert (Produto.objects.count(), VarianteShopify.objects.count(), Movimentacao.objects.count()) == before
    assert dict(Produto.objects.values_list("sku", "estoque_atual")) == stock
    # Shopify did not rename the variant: the merchant's own name stays
    assert Produto.objects.get(pk=produto.pk).nome == "Camiseta renomeada aqui"


def test_variants_without_sku_are_counted_and_listed(api, loja, shop):
    shop.add_products(loja.shop_domain, [
        {"title": "Vale-presente", "variants": [{"sku": None, "available": 5}]},
        {"title": "Caneca", "variants": [{"sku": "", "title": "Azul"}, {"sku": "CANECA-VERDE", "title": "Verde",
                                                                         "available": 4}]},
        {"title": "Meia", "variants": [{"sku": "  ", "title": "Kit"}]},
    ])
    pk = start_import(api, loja)
    run_worker()
    body = importacao(api, pk)
    assert (body["processados"], body["criados"], body["sem_sku"]) == (4, 1, 3)
    titles = sorted(v["titulo"] for v in body["variantes_sem_sku"])
    assert titles == ["Caneca - Azul", "Meia - Kit", "Vale-presente"]
    assert all(isinstance(v["shopify_variant_id"], int) for v in body["variantes_sem_sku"])
    assert list(Produto.objects.filter(loja=loja).values_list("sku", "nome", "estoque_atual")) == [
        ("CANECA-VERDE", "Caneca - Verde", 4)]


def test_a_shop_that_throttles_hard(api, loja, fake_shopify):
    # A 120-point bucket restoring 300/s: a page may cost at most 120 points (29 variants), and
    # 1,200 points of variants take seconds of waiting. On top, answers of both throttling kinds:
    # three HTTP 429 (Retry-After) and three THROTTLED with the bucket drained by "another client".
    register(fake_shopify, [loja], bucket_size=120, restore_rate=300, throttle_mode="mixed")
    fake_shopify.generate_catalog(loja.shop_domain, 300, per_product=3)
    pk = start_import(api, loja)
    fake_shopify.fail(loja.shop_domain, "429", count=3, retry_after=0.2)
    fake_shopify.fail(loja.shop_domain, "throttled", count=3)
    run_worker()
    body = importacao(api, pk)
    assert body["status"] == "concluida", body["erros"]
    assert (body["processados"], body["criados"]) == (300, 300)
    stats = fake_shopify.shop(loja.shop_domain)["stats"]
    assert stats["http429"] >= 3 and stats["throttled"] >= 3 and body["limitadas"] >= 6
    assert fake_shopify.stats()["graphql_errors"] == 0  # never a query over the bucket (MAX_COST_EXCEEDED)
    assert body["requisicoes"] >= 2 + 11 + 6  # 11 pages of at most 29 variants, plus each throttled answer
    assert Produto.objects.filter(loja=loja).count() == 300


def test_token_revoked_mid_import_fails_clearly_and_keeps_what_was_imported(api, loja, shop):
    shop.generate_catalog(loja.shop_domain, 2000, per_product=4)
    shop.revoke(loja.shop_domain, after_requests=4)  # location, count, two pages; then 401
    pk = start_import(api, loja)
    run_worker()
    body = importacao(api, pk)
    assert body["status"] == "falhou"
    assert body["processados"] == 500 and body["criados"] == 500
    (erro,) = body["erros"]
    assert "recusou o token" in erro and "já foi importado foi mantido" in erro
    assert loja.access_token not in erro
    assert Produto.objects.filter(loja=loja).count() == 500
    assert not events_of(api, "catalogo_importado")
    (notice,) = events_of(api, "system_notification")
    assert "falhou" in notice["data"]["message"] and notice["priority"] == "alta"

    # Reconnected (a new token): importing again completes, and the first 500 are not duplicated.
    loja.access_token = "shpat_novo_token"
    loja.save()
    shop.add_shop(loja.shop_domain, "shpat_novo_token", **ROOMY)
    again = start_import(api, loja)
    run_worker()
    body = importacao(api, again)
    assert (body["status"], body["criados"], body["vinculados"]) == ("concluida", 1500, 500)
    assert Produto.objects.filter(loja=loja).count() == 2000


def test_one_import_at_a_time_per_loja_and_one_worker_per_import(api, loja, shop):
    shop.generate_catalog(loja.shop_domain, 10)
    pk = start_import(api, loja)
    assert start_import(api, loja) == pk  # the pending one, not a second
    assert services.claim_import(pk) is True
    assert services.claim_import(pk) is False  # another worker does not take it
    assert services.claim_next_import() is None


def test_other_users_loja_and_loja_without_token(api, loja, shop, make_loja, other_user, make_user):
    theirs = make_loja(other_user)
    assert api.post(f"/api/lojas/{theirs.pk}/importar-catalogo/").status_code == 404
    their_import, _ = services.queue_import(loja=theirs)
    assert api.get(f"/api/importacoes/{their_import.pk}/").status_code == 404
    assert api.get("/api/importacoes/").json()["count"] == 0
    bare = make_loja(loja.owner, token="")
    r = api.post(f"/api/lojas/{bare.pk}/importar-catalogo/")
    assert r.status_code == 400 and "token" in r.json()["erro"], r.json()


def test_command_with_progress_bar_and_dry_run(loja, shop, make_produto):
    shop.generate_catalog(loja.shop_domain, 300, per_product=3, sem_sku_every=100)
    make_produto(loja, "SKU-000001", estoque=2)
    out = io.StringIO()
    call_command("import_catalog", "--loja-id", str(loja.pk), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Simulação (nada foi gravado)" in text and "300/300" in text
    assert "│ 296 " in text  # to create: 300 - 1 linked - 3 without SKU
    assert Produto.objects.filter(loja=loja).count() == 1 and not Importacao.objects.exists()

    out = io.StringIO()
    call_command("import_catalog", "--loja-id", str(loja.pk), stdout=out)
    text = out.getvalue()
    assert "300/300" in text and "Importação" in text and "requisições" in text
    assert Produto.objects.filter(loja=loja).count() == 297

    shop.revoke(loja.shop_domain, after_requests=0)
    with pytest.raises(CommandError, match="recusou o token"):
        call_command("import_catalog", "--loja-id", str(loja.pk), stdout=io.StringIO())


def test_locations_listed_and_the_chosen_one_used_by_the_import(api, loja, shop):
    shop.add_products(loja.shop_domain, [{"title": "Caneca", "variants": [
        {"sku": "CAN-1", "available": {"primary": 4}}]}])
    locations = shop.catalog(loja.shop_domain)["locations"]
    second = next(l for l in locations if not l["primary"])
    # stock at the second location too
    shop.add_products(loja.shop_domain, [{"title": "Garrafa", "variants": [
        {"sku": "GAR-1", "available": {"primary": 1, second["id"].rsplit("/", 1)[1]: 9}}]}])
    r = api.get(f"/api/lojas/{loja.pk}/locais/")
    assert r.status_code == 200
    assert r.json() == {"location_id": "", "locais": [
        {"id": locations[0]["id"], "nome": "Depósito principal", "principal": True},
        {"id": second["id"], "nome": "Loja física", "principal": False}]}
    assert api.patch(f"/api/lojas/{loja.pk}/", {"location_id": "loja física"}, format="json").status_code == 400
    assert api.patch(f"/api/lojas/{loja.pk}/", {"location_id": second["id"]}, format="json").status_code == 200
    start_import(api, loja)
    run_worker()
    stock = dict(Produto.objects.filter(loja=loja).values_list("sku", "estoque_atual"))
    assert stock == {"GAR-1": 9, "CAN-1": 0}  # CAN-1 is not stocked at the second location
    assert VarianteShopify.objects.get(sku="CAN-1").shopify_disponivel is None
    shop.revoke(loja.shop_domain, after_requests=0)
    r = api.get(f"/api/lojas/{loja.pk}/locais/")
    assert r.status_code == 502 and "token" in r.json()["erro"]


@pytest.mark.postgres  # another connection commits while the batch's transaction is open
@pytest.mark.django_db(transaction=True)
def test_a_sku_created_meanwhile_is_linked_not_duplicated(loja, shop, monkeypatch, make_produto):
    """Between the plan and the insert of a batch, someone (the dashboard, another connection)
    creates one of its SKUs: the batch is planned again and links to it."""
    import threading

    from django.db import connection as main_connection

    shop.add_products(loja.shop_domain, [{"title": "Caneca", "variants": [{"sku": "CAN-1", "available": 4},
                                                                          {"sku": "CAN-2", "available": 2}]}])
    real_plan = services.plan_variant_batch
    raced = []

    def create_elsewhere():
        from django.db import connection

        make_produto(loja, "CAN-1", estoque=9, nome="Caneca criada no painel")
        connection.close()

    def plan_then_race(**kwargs):
        plan = real_plan(**kwargs)
        if not raced and main_connection.in_atomic_block:
            raced.append(True)
            thread = threading.Thread(target=create_elsewhere)
            thread.start()
            thread.join()
        return plan

    monkeypatch.setattr(services, "plan_variant_batch", plan_then_race)
    importacao, _ = services.queue_import(loja=loja)
    services.claim_import(importacao.pk)
    done = services.run_import(Importacao.objects.get(pk=importacao.pk))
    assert raced and (done.status, done.criados, done.vinculados) == ("concluida", 1, 1), done.erros
    assert dict(Produto.objects.filter(loja=loja).values_list("sku", "estoque_atual")) == {"CAN-1": 9, "CAN-2": 2}
