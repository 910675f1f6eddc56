"""The merchant's page speaks Brazilian Portuguese: no developer text (API paths, commands, webhook
topics, transport names), pt-BR numbers and plurals, and times in Brasília's zone, marked, even
when the browser runs in another zone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .conftest import login, sell, send_webhook

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]

DEVELOPER_TEXT = re.compile(
    r"WebSocket|polling|/api/|manage\.py|reconcile_stock|p99|orders/|customers/|shop/redact|\(s\)|"
    r"\b1 (variantes|produtos|ocorrências|tentativas|pedidos)\b")


def test_no_developer_text_and_times_in_brasilia(demo, page_factory):
    # The browser is in Tokyo: the page must still show Brasília's time, and say so.
    page = page_factory(timezone_id="Asia/Tokyo")
    login(page, demo.server)
    expect(page.locator("#rt-texto")).to_have_text(re.compile(r"^Ao vivo"))
    sell(demo.server, demo.loja, 9101, [("CAM-AZUL-M", 1), ("SKU-SEM-PRODUTO", 1)])
    send_webhook(demo.server, demo.loja, "customers/redact", {
        "shop_id": 1, "shop_domain": demo.loja.shop_domain, "orders_to_redact": [9101],
        "customer": {"id": 1, "email": "cliente@example.com", "phone": "+5511999990000"}})
    feed_time = page.get_by_role("log").locator("li").first.locator("time")
    expect(feed_time).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
    instant = datetime.fromisoformat(feed_time.get_attribute("datetime").replace("Z", "+00:00"))
    assert feed_time.inner_text() == instant.astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%H:%M:%S")
    expect(page.locator("#t-vendas")).to_contain_text("horário de Brasília")

    page.get_by_role("button", name="Atualizar lista").click()
    expect(page.locator('#lista-nao-mapeados li[data-sku="SKU-SEM-PRODUTO"]')).to_contain_text(
        "SKU-SEM-PRODUTO · 1 venda sem produto")
    page.get_by_role("button", name="Ver entregas").click()
    entrega = page.locator("#lista-entregas li").filter(has_text="Pedido pago").first
    expect(entrega).to_contain_text("1 tentativa ·")
    expect(entrega).to_contain_text("(horário de Brasília)")

    page.reload()
    page.wait_for_selector("html[data-painel=pronto]")
    privacidade = page.locator("#lista-privacidade li").first
    expect(privacidade).to_contain_text(f"Apagar dados de um cliente · {demo.loja.nome}")
    recebido = datetime.fromisoformat(privacidade.locator("time").get_attribute("datetime"))
    assert privacidade.locator("time").inner_text() == recebido.astimezone(
        ZoneInfo("America/Sao_Paulo")).strftime("%d/%m/%Y %H:%M")

    text = page.locator("main").inner_text() + page.locator("header").inner_text()
    found = DEVELOPER_TEXT.findall(text)
    assert not found, found

    # Numbers as a Brazilian writes them (the depósito's push delays, a stock of thousands).
    fmt = page.evaluate("""async () => {
        const f = await import('/painel/static/formato.js');
        return [f.duracao(6800), f.duracao(850), f.inteiro(-999979), f.contagem(1, 'variante'), f.contagem(803, 'variante')];
    }""")
    assert fmt == ["6,8 s", "850 ms", "−999.979", "1 variante", "803 variantes"]
