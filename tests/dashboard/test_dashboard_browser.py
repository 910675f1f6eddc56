"""The dashboard in a real browser (Debian's chromium) against a real server process."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import BLOCK_WEBSOCKETS, FAST_CLIENT, login, open_page, refund, sell

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def row(page, sku: str):
    return page.locator(f'#linhas-estoque tr[data-sku="{sku}"]')


def test_login_then_the_stock_table_with_low_and_zero_highlighted(demo, page_factory):
    page = page_factory()
    page.goto(f"{demo.server.url}/")
    expect(page).to_have_title(re.compile("Entrar"))
    page.get_by_label("Usuário").fill("carla")
    page.get_by_label("Senha").fill("senha-errada")
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("alert")).to_contain_text("Usuário ou senha inválidos")

    login(page, demo.server, to="/produtos/")
    expect(page).to_have_url(re.compile(r"/produtos/$"))  # the page asked for, after logging in
    expect(page.get_by_label("Loja", exact=True)).to_have_value(str(demo.loja.pk))
    expect(page.locator("#linhas-estoque tr")).to_have_count(4)
    expect(row(page, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("20")
    expect(row(page, "CANECA-01")).to_have_class(re.compile(r"\bbaixo\b"))
    expect(row(page, "CANECA-01").locator(".situacao")).to_have_text("Baixo")
    expect(row(page, "MEIA-KIT")).not_to_have_class(re.compile(r"baixo|zerado"))
    # the indicator settles on a live transport
    expect(page.locator("#rt-status")).to_have_attribute("data-modo", re.compile("websocket|polling"))

    # search filters by SKU or name, accent-insensitive
    page.get_by_label("Buscar produto").fill("cerAmica")
    expect(page.locator("#linhas-estoque tr:visible")).to_have_count(1)
    expect(row(page, "CANECA-01")).to_be_visible()
    page.get_by_label("Buscar produto").fill("nada-disso")
    expect(page.get_by_text("Nenhum produto encontrado.")).to_be_visible()
    page.get_by_label("Buscar produto").fill("")
    expect(page.locator("#linhas-estoque tr:visible")).to_have_count(4)

    # logout leads back to the login form
    page.get_by_role("button", name="Sair").click()
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()


def test_a_signed_webhook_updates_the_row_and_the_feed_within_a_second_over_websocket(demo, page_factory):
    page = page_factory(init_scripts=())  # production timings
    login(page, demo.server, to="/produtos/")
    painel = open_page(page, demo.server, "/")  # the feed is on the Painel
    expect(page.locator("#rt-status")).to_have_attribute("data-modo", "websocket")
    expect(painel.locator("#rt-status")).to_have_attribute("data-modo", "websocket")
    # the clock starts when Shopify would get its 200: the change is committed from then on
    sell(demo.server, demo.loja, 5001, [("CAM-AZUL-M", 2), ("SKU-FANTASMA", 1)])
    acknowledged = time.monotonic()
    expect(row(page, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("18", timeout=1000)
    feed = painel.get_by_role("log")
    expect(feed.locator("li.venda").first).to_contain_text("Pedido #5001", timeout=1000)
    assert time.monotonic() - acknowledged < 1.0
    expect(feed.locator("li.venda").first).to_contain_text("CAM-AZUL-M: −2 (20 → 18)")
    expect(feed.locator("li.venda").first).to_contain_text("SKU não mapeado: SKU-FANTASMA")
    expect(row(page, "CAM-AZUL-M")).to_have_class(re.compile(r"\bflash"))


def test_an_alert_appears_when_a_product_crosses_its_threshold(demo, page_factory):
    page = page_factory()
    login(page, demo.server, to="/produtos/")
    painel = open_page(page, demo.server, "/")
    alerts = painel.locator("#lista-alertas")
    expect(alerts.locator("li")).to_have_count(1)  # CANECA-01 was already low when created
    # BONE-PRETO 6 -> 4 crosses its minimum of 5: a high alert
    sell(demo.server, demo.loja, 6001, [("BONE-PRETO", 2)])
    expect(alerts.locator('li[data-tipo="estoque_baixo"]')).to_have_count(2, timeout=3000)
    expect(row(page, "BONE-PRETO")).to_have_class(re.compile(r"\bbaixo\b"))
    # MEIA-KIT 50 -> 0: a critical alert, listed first
    sell(demo.server, demo.loja, 6002, [("MEIA-KIT", 50)])
    expect(alerts.locator("li").first).to_have_attribute("data-prioridade", "critica", timeout=3000)
    expect(alerts.locator("li").first).to_contain_text("MEIA-KIT")
    expect(row(page, "MEIA-KIT")).to_have_class(re.compile(r"\bzerado\b"))
    expect(row(page, "MEIA-KIT").locator(".situacao")).to_have_text("Zerado")
    # overselling leaves it negative, flagged as such
    sell(demo.server, demo.loja, 6003, [("MEIA-KIT", 3)])
    expect(row(page, "MEIA-KIT").locator(".estoque-atual")).to_have_text("-3", timeout=3000)
    expect(row(page, "MEIA-KIT").locator(".situacao")).to_have_text("Negativo")
    # a restocking refund brings BONE-PRETO back above its minimum: its alert goes away
    refund(demo.server, demo.loja, 7001, 6001, [(1, 2, "return")])
    expect(row(page, "BONE-PRETO").locator(".estoque-atual")).to_have_text("6", timeout=3000)
    expect(alerts.locator('li[data-produto-id="%d"]' % demo.produtos["BONE-PRETO"].pk)).to_have_count(0)
    expect(painel.get_by_role("log").locator("li.devolucao").first).to_contain_text("Reembolso")
    expect(painel.locator("#contador-alertas")).to_have_text("2")  # CANECA-01 low, MEIA-KIT zero


def test_with_websockets_blocked_the_page_keeps_updating_by_polling(demo, page_factory, make_produto):
    page = page_factory(init_scripts=(FAST_CLIENT, BLOCK_WEBSOCKETS))
    login(page, demo.server, to="/produtos/")
    painel = open_page(page, demo.server, "/")
    status = page.locator("#rt-status")
    expect(status).to_have_attribute("data-modo", "polling")
    expect(status).to_have_text("Ao vivo (atualiza a cada poucos segundos)")  # words, not "polling"
    for n, expected in ((1, "19"), (2, "17")):
        sell(demo.server, demo.loja, 8000 + n, [("CAM-AZUL-M", n)])
        expect(row(page, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text(expected, timeout=1500)
    # a duplicate delivery changes nothing and is shown once
    sell(demo.server, demo.loja, 8002, [("CAM-AZUL-M", 2)])
    page.wait_for_timeout(600)
    expect(painel.get_by_role("log").locator("li.venda")).to_have_count(2)
    expect(row(page, "CAM-AZUL-M").locator(".estoque-atual")).to_have_text("17")
    assert page.evaluate("window.__wsOpened.length") == 0
    # a produto created after the page loaded shows up with its first stock event
    make_produto(demo.loja, "NOVO-01", estoque=7, minimo=2, nome="Produto novo")
    expect(row(page, "NOVO-01").locator(".estoque-atual")).to_have_text("7", timeout=3000)


def test_back_to_websocket_when_they_return_and_nothing_is_missed(demo, page_factory):
    page = page_factory(init_scripts=(FAST_CLIENT, BLOCK_WEBSOCKETS))
    login(page, demo.server, to="/produtos/")
    status = page.locator("#rt-status")
    expect(status).to_have_attribute("data-modo", "polling")
    sell(demo.server, demo.loja, 9001, [("MEIA-KIT", 1)])
    expect(row(page, "MEIA-KIT").locator(".estoque-atual")).to_have_text("49", timeout=1500)
    page.evaluate("window.__wsBlocked = false")
    expect(status).to_have_attribute("data-modo", "websocket", timeout=5000)
    sell(demo.server, demo.loja, 9002, [("MEIA-KIT", 2)])
    expect(row(page, "MEIA-KIT").locator(".estoque-atual")).to_have_text("47", timeout=1000)
    painel = open_page(page, demo.server, "/")
    expect(painel.get_by_role("log").locator("li.venda")).to_have_count(2)


def test_screenshot_of_a_busy_dashboard(demo, page_factory):
    page = page_factory()
    login(page, demo.server)
    sell(demo.server, demo.loja, 1001, [("CAM-AZUL-M", 3), ("BONE-PRETO", 2)])
    sell(demo.server, demo.loja, 1002, [("MEIA-KIT", 50), ("SKU-SEM-CADASTRO", 1)])
    sell(demo.server, demo.loja, 1003, [("CANECA-01", 1)])
    expect(page.get_by_role("log").locator("li.venda")).to_have_count(3, timeout=3000)
    expect(page.locator("#lista-alertas li")).to_have_count(3, timeout=3000)
    page.wait_for_timeout(1000)  # let the flashes fade
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "dashboard-celular.png"), full_page=True)
    # the phone layout fits: no horizontal scrolling of the page itself
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert shot.stat().st_size > 10_000
    docs = ROOT / "docs" / "dashboard.png"
    import os

    if not docs.exists() or os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, docs)


def test_webhook_status_configure_and_connectivity_buttons(demo, page_factory, make_loja, fake_shopify_server):
    fake_shopify_server.reset()
    fake_shopify_server.add_shop(demo.loja.shop_domain, demo.loja.access_token, name="Loja do Painel")
    unknown = make_loja(demo.user, token="shpat_token_que_a_shopify_recusa")  # never registered in the fake
    page = page_factory()
    login(page, demo.server, to="/lojas/")
    item = page.locator(f'li.loja-webhook[data-loja-id="{demo.loja.pk}"]')
    expect(item.locator(".selo-webhook")).to_have_text("Não configurado")

    item.get_by_role("button", name="Testar conexão").click()
    expect(item.get_by_role("status")).to_contain_text(re.compile(r"Conectado a .+ em \d+ ms"))

    page.get_by_label("Endereço público deste servidor").fill(demo.server.url)
    item.get_by_role("button", name="Configurar webhooks").click()
    expect(item.get_by_role("status")).to_contain_text("Webhooks configurados: 4 criados")
    expect(item.locator(".selo-webhook")).to_have_text("Configurado")
    subs = fake_shopify_server.subscriptions(demo.loja.shop_domain)
    assert len(subs) == 4
    assert {s["uri"] for s in subs} == {f"{demo.server.url}/api/estoque/webhook/shopify/"}

    # a loja whose token Shopify refuses: the error is shown, in words, and the page stays usable
    other = page.locator(f'li.loja-webhook[data-loja-id="{unknown.pk}"]')
    other.get_by_role("button", name="Testar conexão").click()
    expect(other.get_by_role("status")).to_contain_text("Sem conexão:")
    other.get_by_role("button", name="Configurar webhooks").click()
    expect(other.get_by_role("status")).to_contain_text("Não foi possível configurar:")
    expect(other.get_by_role("button", name="Configurar webhooks")).to_be_enabled()


def test_the_loja_picker_opens_another_loja_and_events_stay_in_their_loja(demo, page_factory, make_loja,
                                                                          make_produto):
    second = make_loja(demo.user, secret="shpss_segunda_loja")
    make_produto(second, "SEG-001", estoque=9, minimo=1, nome="Produto da segunda loja")
    page = page_factory()
    login(page, demo.server)
    # The page opens the first loja by name: "Loja 10" sorts before "Loja 9", so open the demo's own.
    page.goto(f"{demo.server.url}/?loja={demo.loja.pk}")
    page.wait_for_selector("html[data-painel=pronto]")
    page.get_by_label("Loja", exact=True).select_option(str(second.pk))
    page.wait_for_timeout(300)
    assert page.url.endswith(f"?loja={demo.loja.pk}")  # choosing does not navigate by itself
    page.get_by_role("button", name="Abrir").click()
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page).to_have_url(re.compile(r"/\?loja=%d$" % second.pk))
    # the navigation keeps the loja: its Produtos page lists its one produto
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Produtos").click()
    expect(page).to_have_url(re.compile(r"/produtos/\?loja=%d$" % second.pk))
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page.locator("#linhas-estoque tr")).to_have_count(1)
    expect(page.locator("#rt-status")).to_have_attribute("data-modo", re.compile("websocket|polling"))
    painel = open_page(page, demo.server, f"/?loja={second.pk}")
    # a sale in the first loja does not touch this page; one in this loja does
    sell(demo.server, demo.loja, 4001, [("CAM-AZUL-M", 1)])
    sell(demo.server, second, 4002, [("SEG-001", 4)])
    expect(row(page, "SEG-001").locator(".estoque-atual")).to_have_text("5", timeout=3000)
    expect(painel.get_by_role("log").locator("li.venda")).to_have_count(1)
    expect(painel.get_by_role("log")).not_to_contain_text("#4001")


def test_a_user_without_lojas_gets_a_working_page(demo, page_factory, make_user):
    make_user("sem-loja", password="senha-forte-123")
    page = page_factory()
    login_page = f"{demo.server.url}/"
    page.goto(login_page)
    page.get_by_label("Usuário").fill("sem-loja")
    page.get_by_label("Senha").fill("senha-forte-123")
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page.get_by_role("heading", name="Nenhuma loja ainda")).to_be_visible()
    expect(page.locator("#rt-status")).to_have_attribute("data-modo", re.compile("websocket|polling"))
