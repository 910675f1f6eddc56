"""The depósito section in a real browser (CONTRACT 10): a loja put on another loja's stock, a sale
in the other loja seen on its page, its push to Shopify turned on, and the pushes shown live."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from chegouhub.catalog import services as catalog
from chegouhub.stocksync.pusher import Pusher
from tests.devtools.fake_fixtures import register

from .conftest import login, open_page, sell

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]


def off_the_browser_thread(fn):
    """Run `fn` in a thread of its own: Playwright's sync API holds an event loop in this one, and
    the import and the pusher run their own (their rows are committed: transactional_db)."""
    from django.db import connection

    result, errors = [], []

    def run():
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return result[0] if result else None


def import_catalog(loja) -> str:
    importacao, _ = catalog.queue_import(loja=loja)
    assert catalog.claim_import(importacao.pk)
    importacao.refresh_from_db()
    return catalog.run_import(importacao).status


def push() -> int:
    return Pusher(min_interval=0).drain_sync()


def test_a_loja_joins_a_deposito_pushes_to_shopify_and_the_page_follows_live(demo, page_factory, make_loja,
                                                                              make_produto, fake_shopify):
    outlet = make_loja(demo.user, token="shpat_outlet_browser_0001")
    make_produto(outlet, "CHAVEIRO", estoque=7, minimo=1, nome="Chaveiro")
    page = page_factory()
    login(page, demo.server, to=f"/depositos/?loja={outlet.pk}")
    section = page.locator("#painel-deposito")
    expect(section.locator("#deposito-lojas")).to_have_text("nenhuma outra loja")

    # nothing preselected: moving without choosing does nothing
    expect(section.get_by_label("Usar o estoque de")).to_have_value("")
    section.get_by_role("button", name="Mover loja").click()
    expect(section.locator("#mover-resultado")).to_have_text("Escolha para qual depósito mover a loja.")
    # the confirmation says what merges into what, and who shares it; cancelling changes nothing
    section.get_by_label("Usar o estoque de").select_option(str(demo.loja.deposito_id))
    section.get_by_role("button", name="Mover loja").click()
    dialog = page.get_by_role("dialog", name="Mover a loja de depósito?")
    expect(dialog).to_contain_text(f"A loja {outlet.nome} passa a vender do estoque de")
    expect(dialog).to_contain_text(f"que já tem 4 produtos e é usado por: {demo.loja.nome}. O produto desta loja passa para lá")
    dialog.get_by_role("button", name="Cancelar").click()
    expect(section.locator("#mover-resultado")).to_have_text("Nada foi mudado.")
    outlet.refresh_from_db()
    assert outlet.deposito_id != demo.loja.deposito_id
    section.get_by_role("button", name="Mover loja").click()
    dialog.get_by_role("button", name="Mover loja").click()
    expect(section.locator("#mover-resultado")).to_contain_text("Loja movida")
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page.locator("#painel-deposito #deposito-lojas")).to_have_text(demo.loja.nome)
    produtos = open_page(page, demo.server, f"/produtos/?loja={outlet.pk}")
    rows = produtos.locator("#linhas-estoque tr")
    expect(rows).to_have_count(5)  # the depósito's four produtos and the outlet's own

    # A sale in the other loja moves this page's stock: one stock.
    sell(demo.server, demo.loja, 8101, [("CAM-AZUL-M", 2)])
    expect(produtos.locator('#linhas-estoque tr[data-sku="CAM-AZUL-M"] .estoque-atual')).to_have_text("18")

    # The outlet's Shopify store, its catalog linked to the depósito's produtos, its push turned on.
    register(fake_shopify, [outlet], bucket_size=1000, restore_rate=1000)
    fake_shopify.add_products(outlet.shop_domain, [{"title": "Camiseta azul", "variants": [
        {"sku": "CAM-AZUL-M", "title": "M", "available": 30}]}])
    assert off_the_browser_thread(lambda: import_catalog(outlet)) == "concluida"
    section = page.locator("#painel-deposito")
    section.get_by_label("Enviar o estoque para a Shopify desta loja").check()
    section.get_by_label("Reserva").fill("3")
    section.get_by_role("button", name="Salvar").click()
    expect(section.locator("#sincronizar-resultado")).to_have_text("Estoque enviado à Shopify desta loja.")
    expect(section.locator(f'#sync-lojas tr[data-loja-id="{outlet.pk}"] td').nth(1)).to_have_text("sim")

    off_the_browser_thread(push)  # Shopify's 30 corrected to 18 - 3 of reserve
    envios = section.locator("#sync-envios li")
    expect(envios.first).to_contain_text("CAM-AZUL-M: Shopify mostra 15", timeout=15000)  # the 10 s refresh
    sell(demo.server, demo.loja, 8102, [("CAM-AZUL-M", 4)])
    off_the_browser_thread(push)
    # The pusher ran in this process, whose channel layer is not the server's (in-memory): its
    # event reaches the page through the log, as the next event's predecessor (a gap filled), so a
    # sale of another produto brings it at once, well before the periodic refresh.
    sell(demo.server, demo.loja, 8103, [("MEIA-KIT", 1)])
    expect(envios.first).to_contain_text("CAM-AZUL-M: Shopify mostra 11", timeout=4000)
    variants = {v["sku"]: v["available"] for v in fake_shopify.catalog(outlet.shop_domain)["variants"]}
    assert variants == {"CAM-AZUL-M": 11}


def test_depositos_are_created_renamed_and_deleted_when_empty(demo, page_factory):
    page = page_factory()
    login(page, demo.server, to="/depositos/")
    page.get_by_label("Novo depósito").fill("Estoque da feira")
    page.get_by_role("button", name="Criar depósito").click()
    item = page.locator("#lista-depositos li", has_text="sem lojas")
    expect(item).to_have_count(1)
    item.get_by_label("Nome").fill("Estoque da feira de domingo")
    item.get_by_role("button", name="Renomear").click()
    expect(item.get_by_role("status")).to_have_text("Nome salvo.")
    # the depósito in use has no delete button; the empty one asks first
    used = page.locator(f'#lista-depositos li[data-deposito-id="{demo.loja.deposito_id}"]')
    expect(used.get_by_role("button", name="Excluir")).to_have_count(0)
    item.get_by_role("button", name="Excluir").click()
    dialog = page.get_by_role("dialog", name="Excluir o depósito?")
    expect(dialog).to_contain_text('O depósito "Estoque da feira" não tem lojas. Ele não tem produtos.')
    dialog.get_by_role("button", name="Excluir depósito").click()
    expect(item).to_have_count(0)
    page.reload()
    expect(page.locator("#lista-depositos li")).to_have_count(1)
