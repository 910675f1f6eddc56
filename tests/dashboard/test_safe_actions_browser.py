"""Safe actions in a real browser: "Mover loja" and a large or negative stock change say what will
happen and wait for a yes; "Definir" sets the counted number with a reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chegouhub.inventory.models import Movimentacao, Produto
from chegouhub.stocksync.depositos import move_loja
from chegouhub.stores.models import Loja

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]


def stock(demo, sku: str) -> int:
    return Produto.objects.get(pk=demo.produtos[sku].pk).estoque_atual


def test_moving_a_loja_names_what_merges_and_which_lojas_share_it(demo, page_factory, make_loja, make_produto):
    outlet = make_loja(demo.user, token="shpat_outlet_safe_0001")
    make_produto(outlet, "CHAVEIRO", estoque=7, minimo=1, nome="Chaveiro")
    make_produto(outlet, "IMA", estoque=3, minimo=1, nome="Ímã de geladeira")
    quiosque = make_loja(demo.user, token="shpat_quiosque_safe_0001")
    move_loja(loja=quiosque, deposito=demo.loja.deposito)  # the target depósito is shared by two lojas
    page = page_factory()
    login(page, demo.server)
    page.goto(f"{demo.server.url}/?loja={outlet.pk}")
    page.wait_for_selector("html[data-painel=pronto]")
    section = page.locator("#painel-deposito")
    picker = section.get_by_label("Usar o estoque de")
    expect(picker).to_have_value("")  # nothing preselected
    section.get_by_role("button", name="Mover loja").click()
    expect(section.locator("#mover-resultado")).to_have_text("Escolha um depósito.")
    expect(page.get_by_role("dialog")).to_have_count(0)

    picker.select_option(str(demo.loja.deposito_id))
    section.get_by_role("button", name="Mover loja").click()
    dialog = page.get_by_role("dialog", name="Mover a loja para outro depósito?")
    expect(dialog).to_be_visible()
    destino = demo.loja.deposito.nome
    expect(dialog).to_contain_text(f"2 produtos da loja {outlet.nome} passam para o depósito {destino}, que já tem 4 produtos.")
    afetadas = ", ".join(sorted([demo.loja.nome, quiosque.nome]))
    expect(dialog).to_contain_text(f"Lojas afetadas: {outlet.nome} e {afetadas}.")
    expect(dialog.get_by_role("button", name="Cancelar")).to_be_focused()  # the safe answer is the default
    page.keyboard.press("Escape")
    expect(section.locator("#mover-resultado")).to_have_text("Nada foi movido.")
    assert Loja.objects.get(pk=outlet.pk).deposito_id != demo.loja.deposito_id

    section.get_by_role("button", name="Mover loja").click()
    dialog.get_by_role("button", name="Mover loja").click()
    expect(section.locator("#mover-resultado")).to_contain_text("Loja movida")
    page.wait_for_selector("html[data-painel=pronto]")
    expect(page.locator("#linhas-estoque tr")).to_have_count(6)
    assert Loja.objects.get(pk=outlet.pk).deposito_id == demo.loja.deposito_id


def test_a_large_or_negative_adjustment_asks_first_and_a_no_changes_nothing(demo, page_factory):
    page = page_factory()
    login(page, demo.server)
    expect(page.locator("html")).to_have_attribute("data-bancada", "pronta")
    form = page.locator("#form-movimento")
    form.get_by_label("Produto", exact=True).select_option(str(demo.produtos["CAM-AZUL-M"].pk))
    form.get_by_label("Quantidade").fill("-999999")
    form.get_by_label("Motivo").fill("Ajuste de inventário")
    form.get_by_role("button", name="Registrar movimentação").click()
    dialog = page.get_by_role("dialog", name="Confirmar a mudança de estoque?")
    expect(dialog).to_contain_text("Camiseta azul M (CAM-AZUL-M): o estoque passa de 20 para −999.979 (−999.999 unidades).")
    expect(dialog).to_contain_text("O estoque ficará negativo")
    expect(dialog).to_contain_text("mais de 100 unidades")
    dialog.get_by_role("button", name="Cancelar").click()
    expect(page.locator("#mov-resultado")).to_have_text("Nada foi registrado.")
    assert stock(demo, "CAM-AZUL-M") == 20
    assert not Movimentacao.objects.filter(produto=demo.produtos["CAM-AZUL-M"], origem="manual").exists()

    # a small change goes straight through; one that would go below zero asks
    form.get_by_label("Quantidade").fill("-5")
    form.get_by_role("button", name="Registrar movimentação").click()
    expect(page.locator("#mov-resultado")).to_have_text("Registrado: −5 (20 → 15).")
    form.get_by_label("Produto", exact=True).select_option(str(demo.produtos["CANECA-01"].pk))
    form.get_by_label("Quantidade").fill("-4")
    form.get_by_label("Motivo").fill("Avaria")
    form.get_by_role("button", name="Registrar movimentação").click()
    expect(dialog).to_contain_text("o estoque passa de 3 para −1")
    dialog.get_by_role("button", name="Registrar mesmo assim").click()
    expect(page.locator("#mov-resultado")).to_have_text("Registrado: −4 (3 → −1).")
    assert stock(demo, "CANECA-01") == -1


def test_definir_sets_the_counted_number_with_its_reason(demo, page_factory):
    page = page_factory()
    login(page, demo.server)
    expect(page.locator("html")).to_have_attribute("data-bancada", "pronta")
    form = page.locator("#form-movimento")
    camiseta = demo.produtos["CAM-AZUL-M"]
    form.get_by_label("Produto", exact=True).select_option(str(camiseta.pk))
    form.get_by_label("Definir").check()
    form.get_by_label("Quantidade contada").fill("12")
    form.get_by_label("Motivo").fill("Contagem de inventário")
    form.get_by_role("button", name="Registrar movimentação").click()
    expect(page.locator("#mov-resultado")).to_have_text("Registrado: −8 (20 → 12).")
    expect(page.locator('#linhas-estoque tr[data-sku="CAM-AZUL-M"] .estoque-atual')).to_have_text("12")
    (mov,) = Movimentacao.objects.filter(produto=camiseta, origem="manual")
    assert (mov.quantidade, mov.motivo) == (-8, "Contagem de inventário")

    form.get_by_label("Quantidade contada").fill("12")
    form.get_by_label("Motivo").fill("Recontagem")
    form.get_by_role("button", name="Registrar movimentação").click()
    expect(page.locator("#mov-resultado")).to_have_text("O estoque já é 12; nada a registrar.")

    # counted far above the current stock: more than 100 units at once asks first
    form.get_by_label("Quantidade contada").fill("512")
    form.get_by_role("button", name="Registrar movimentação").click()
    dialog = page.get_by_role("dialog", name="Confirmar a mudança de estoque?")
    expect(dialog).to_contain_text("o estoque passa de 12 para 512 (+500 unidades)")
    dialog.get_by_role("button", name="Registrar mesmo assim").click()
    expect(page.locator("#mov-resultado")).to_have_text("Registrado: +500 (12 → 512).")
    assert Produto.objects.get(pk=camiseta.pk).estoque_atual == 512
