"""The workbench in a real browser: each action done in one dashboard, seen live in a second one."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from chegouhub.devtools.payloads import encode, order_payload
from chegouhub.shopify.models import DeliveryStatus, WebhookDelivery

from .conftest import login, open_page, sell

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]


def row(page, sku: str):
    return page.locator(f'#linhas-estoque tr[data-sku="{sku}"]')


def two_dashboards(demo, page_factory, to: str = "/produtos/"):
    first, second = page_factory(), page_factory()
    for page in (first, second):
        login(page, demo.server, to=to)
        expect(page.locator("html")).to_have_attribute("data-bancada", "pronta")
    return first, second


def test_ajustar_and_definir_with_their_reasons_and_the_history_live(demo, page_factory):
    camiseta = demo.produtos["CAM-AZUL-M"]
    a, b = two_dashboards(demo, page_factory, to=f"/produtos/{camiseta.pk}/")
    painel = open_page(b, demo.server, "/")
    expect(b.locator("#lista-historico li")).to_have_count(1)
    expect(b.locator("#lista-historico li").first).to_contain_text("Estoque inicial: +20 (0 → 20)")

    form = a.locator("#form-movimento")
    expect(form.get_by_label("Ajustar (somar ou tirar)")).to_be_checked()
    form.get_by_label("Quantidade").fill("5")
    form.get_by_role("button", name="Salvar").click()
    expect(a.locator("#mov-resultado")).to_have_text("Informe o motivo.")  # no reason, nothing done
    form.get_by_label("Motivo").select_option("Recebimento de fornecedor")
    form.get_by_role("button", name="Salvar").click()
    expect(a.locator("#mov-resultado")).to_have_text("Registrado: +5 (20 → 25).")
    for page in (a, b):  # both dashboards, live
        expect(row(page, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("25")
    expect(painel.get_by_role("log").locator("li").first).to_contain_text("Ajuste manual")
    expect(b.locator("#lista-historico li").first).to_contain_text("Ajuste manual: +5 (20 → 25)")
    expect(b.locator("#lista-historico li").first).to_contain_text("Recebimento de fornecedor")

    # an adjustment by keyboard only, and the validation a person notices
    form.get_by_label("Quantidade").fill("0")
    form.get_by_label("Motivo").select_option("Avaria")
    form.get_by_label("Quantidade").press("Enter")
    expect(a.locator("#mov-resultado")).to_contain_text("diferente de zero")
    form.get_by_label("Quantidade").fill("-3")
    form.get_by_label("Quantidade").press("Enter")
    expect(a.locator("#mov-resultado")).to_have_text("Registrado: −3 (25 → 22).")
    expect(row(b, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("22")
    expect(b.locator("#lista-historico li").first).to_contain_text("Ajuste manual: −3 (25 → 22) · Avaria")

    # "Definir": the counted number; the difference is what the history records
    form.get_by_label("Definir (o número contado)").check()
    form.get_by_label("Novo estoque (contado)").fill("30")
    form.get_by_label("Motivo").select_option("Contagem de inventário")
    form.get_by_role("button", name="Salvar").click()
    expect(a.locator("#mov-resultado")).to_have_text("Registrado: +8 (22 → 30).")
    expect(b.locator("#lista-historico li").first).to_contain_text("Ajuste manual: +8 (22 → 30) · Contagem de inventário")

    # a large change asks first, saying what will happen; cancelling changes nothing
    form.get_by_label("Novo estoque (contado)").fill("1000")
    form.get_by_role("button", name="Salvar").click()
    dialog = a.get_by_role("dialog", name="Confirmar mudança grande de estoque")
    expect(dialog).to_contain_text("O estoque de CAM-AZUL-M vai de 30 para 1.000 (+970 unidades).")
    dialog.get_by_role("button", name="Cancelar").click()
    expect(a.locator("#mov-resultado")).to_have_text("Nada foi mudado.")
    expect(row(b, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("30")
    form.get_by_role("button", name="Salvar").click()
    dialog.get_by_role("button", name="Mudar o estoque").click()
    expect(a.locator("#mov-resultado")).to_have_text("Registrado: +970 (30 → 1.000).")
    expect(row(b, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("1.000")  # pt-BR thousands

    # a sale shows in the history with its order
    sell(demo.server, demo.loja, 7101, [("CAM-AZUL-M", 2)])
    expect(b.locator("#lista-historico li").first).to_contain_text("Venda: −2 (1.000 → 998) · pedido 7101")


def test_an_unmapped_sku_of_the_feed_becomes_a_mapping_in_two_clicks(demo, page_factory):
    a = page_factory()
    login(a, demo.server, to="/")  # the Painel's feed
    b = open_page(a, demo.server, "/produtos/")
    sell(demo.server, demo.loja, 7201, [("SKU-DA-SHOPIFY", 1)])
    mapear = a.get_by_role("button", name="Mapear SKU-DA-SHOPIFY")
    expect(mapear).to_be_visible()
    mapear.click()  # 1
    form = a.locator("#form-mapear")
    form.get_by_label("Buscar produto").fill("meias")  # the picker searches the loja's produtos
    expect(form.get_by_label("Produto", exact=True).locator("option")).to_have_count(1)
    form.get_by_label("Produto", exact=True).select_option(str(demo.produtos["MEIA-KIT"].pk))
    a.get_by_role("button", name="Salvar mapeamento").click()  # 2
    expect(a.locator("#mapear-resultado")).to_contain_text("Mapeado")
    expect(mapear).to_have_count(0)
    sell(demo.server, demo.loja, 7202, [("SKU-DA-SHOPIFY", 4)])
    expect(row(b, "MEIA-KIT").locator(".estoque-atual")).to_have_text("46")


def test_deliveries_failed_and_dead_first_and_a_replay(demo, page_factory):
    a = page_factory()
    login(a, demo.server, to="/lojas/")
    b = open_page(a, demo.server, "/produtos/")
    sell(demo.server, demo.loja, 7301, [("BONE-PRETO", 1)])
    # a delivery whose processing kept failing (an outage) until its retries ran out
    body = encode(order_payload(7302, [(1, "BONE-PRETO", 2)]))
    dead = WebhookDelivery.objects.create(loja=demo.loja, shop_domain=demo.loja.shop_domain, topic="orders/paid",
                                          webhook_id=str(uuid.uuid4()), body=body, status=DeliveryStatus.DEAD,
                                          attempts=8, order_id=7302, last_error="OperationalError")
    a.get_by_role("button", name="Ver entregas").click()
    items = a.locator("#lista-entregas li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("pedido pago · morta")
    a.get_by_role("button", name=f"Reprocessar entrega {dead.pk} (pedido pago)").click()
    expect(a.locator(f'#lista-entregas li[data-entrega-id="{dead.pk}"]')).to_contain_text("processada")
    expect(row(b, "BONE-PRETO").locator(".estoque-atual")).to_have_text("3")


def test_connect_form_validates_and_starts_the_install_flow(demo, page_factory):
    page = page_factory()
    login(page, demo.server, to="/lojas/")
    form = page.locator("#form-conectar")
    form.get_by_label("Domínio na Shopify").fill("minha-loja.com")
    form.get_by_role("button", name="Conectar com a Shopify").click()
    expect(page.locator("#conectar-resultado")).to_contain_text("minha-loja.myshopify.com")
    form.get_by_label("Domínio na Shopify").fill("nova-loja.myshopify.com")
    form.get_by_role("button", name="Conectar com a Shopify").click()
    # this server has no app configured: the install flow's own page says so, clearly
    expect(page.get_by_role("heading", name="Não foi possível conectar a loja")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("não está configurado"))


def test_usable_on_a_phone(demo, page_factory):
    page = page_factory(width=390, height=844)
    login(page, demo.server, to=f"/produtos/{demo.produtos['MEIA-KIT'].pk}/")
    form = page.locator("#form-movimento")
    form.scroll_into_view_if_needed()
    box = form.bounding_box()
    assert box and box["width"] <= 390
    form.get_by_label("Quantidade").fill("1")
    form.get_by_label("Motivo").select_option("Devolução de cliente")
    form.get_by_role("button", name="Salvar").click()
    expect(page.locator("#mov-resultado")).to_have_text("Registrado: +1 (50 → 51).")


def test_create_and_edit_a_produto_seen_live(demo, page_factory):
    a, b = two_dashboards(demo, page_factory)
    form = a.locator("#form-produto")
    form.get_by_label("SKU").fill("CALCA-JEANS-40")
    form.get_by_label("Nome").fill("Calça jeans 40")
    form.get_by_label("Estoque mínimo").fill("2")
    form.get_by_label("Estoque inicial").fill("0")
    form.get_by_role("button", name="Criar produto").click()
    expect(a.locator("#prod-resultado")).to_have_text("Produto CALCA-JEANS-40 criado.")
    for page in (a, b):  # created with no stock: still on every dashboard, as zero
        expect(row(page, "CALCA-JEANS-40").locator(".nome-texto")).to_have_text("Calça jeans 40")
        expect(row(page, "CALCA-JEANS-40").locator(".situacao")).to_have_text("Zerado")

    # a duplicate SKU is refused with the reason
    form.get_by_label("SKU").fill("MEIA-KIT")
    form.get_by_label("Nome").fill("Outra meia")
    form.get_by_role("button", name="Criar produto").click()
    expect(a.locator("#prod-resultado")).to_contain_text("Já existe um produto com este SKU")

    # edit on the produto's page (opened from the list): name and minimum; BONE-PRETO (6) with
    # minimum 8 is now low, on both dashboards
    a.get_by_role("link", name="Boné preto").click()
    a.wait_for_selector("html[data-bancada=pronta]")
    form = a.locator("#form-produto")
    expect(form.get_by_label("SKU")).to_have_value("BONE-PRETO")
    expect(form.get_by_label("Estoque inicial")).to_have_count(0)
    form.get_by_label("Nome").fill("Boné preto aba reta")
    form.get_by_label("Estoque mínimo").fill("8")
    form.get_by_role("button", name="Salvar alterações").click()
    expect(a.locator("#prod-resultado")).to_have_text("Produto BONE-PRETO atualizado.")
    for page in (a, b):
        expect(row(page, "BONE-PRETO").locator(".nome-texto")).to_have_text("Boné preto aba reta")
        expect(row(page, "BONE-PRETO").locator(".estoque-minimo")).to_have_text("8")
        expect(row(page, "BONE-PRETO").locator(".situacao")).to_have_text("Baixo")


def test_connect_with_a_pasted_token_tested_before_saving(demo, page_factory, fake_shopify_server):
    fake_shopify_server.add_shop("colada-painel.myshopify.com", "shpat_painel_ok", name="Loja Colada")
    page = page_factory()
    login(page, demo.server, to="/lojas/")
    form = page.locator("#form-token")
    form.get_by_label("Domínio na Shopify").fill("colada-painel.myshopify.com")
    form.get_by_label("Token de acesso (Admin API)").fill("shpat_errado")
    form.get_by_label("Segredo do app (API secret key)").fill("shpss_painel")
    form.get_by_role("button", name="Testar e conectar").click()
    expect(page.locator("#token-resultado")).to_contain_text("nada foi salvo")
    form.get_by_label("Token de acesso (Admin API)").fill("shpat_painel_ok")
    form.get_by_role("button", name="Testar e conectar").click()
    page.wait_for_url(re.compile(r"/\?loja=\d+$"))
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page.get_by_label("Loja", exact=True).locator("option:checked")).to_have_text("Loja Colada — colada-painel.myshopify.com")


def test_choose_the_lojas_location_among_the_shops(demo, page_factory, fake_shopify_server):
    from tests.devtools.fake_fixtures import register

    register(fake_shopify_server, [demo.loja])
    page = page_factory()
    login(page, demo.server, to="/lojas/")
    page.get_by_role("button", name="Ver locais da Shopify").click()
    select = page.get_by_label("Local de estoque na Shopify")
    expect(select.locator("option")).to_have_count(2)
    expect(select.locator("option:checked")).to_have_text("Depósito principal (principal)")
    select.select_option(label="Loja física")
    page.get_by_role("button", name="Usar este local").click()
    expect(page.locator("#local-resultado")).to_contain_text("Local salvo")
    demo.loja.refresh_from_db()
    assert demo.loja.location_id == fake_shopify_server.catalog(demo.loja.shop_domain)["locations"][1]["id"]


def test_an_unmapped_sku_of_the_stats_becomes_a_mapping_in_two_clicks(demo, page_factory):
    sell(demo.server, demo.loja, 7401, [("SKU-ESTATISTICA", 2)])
    sell(demo.server, demo.loja, 7402, [("SKU-ESTATISTICA", 1)])
    page = page_factory()
    login(page, demo.server, to="/lojas/")
    produtos = open_page(page, demo.server, "/produtos/")
    item = page.locator('#lista-nao-mapeados li[data-sku="SKU-ESTATISTICA"]')
    expect(item).to_contain_text("SKU-ESTATISTICA · 2 vendas")
    item.get_by_role("button", name="Mapear SKU-ESTATISTICA").click()
    page.locator("#form-mapear").get_by_label("Produto", exact=True).select_option(str(demo.produtos["CANECA-01"].pk))
    page.get_by_role("button", name="Salvar mapeamento").click()
    expect(page.locator("#mapear-resultado")).to_contain_text("Mapeado")
    page.get_by_role("button", name="Atualizar lista").click()
    expect(item).to_have_count(0)
    sell(demo.server, demo.loja, 7403, [("SKU-ESTATISTICA", 1)])
    expect(row(produtos, "CANECA-01").locator(".estoque-atual")).to_have_text("2")
