"""The dashboard's sales panel in Chromium: totals per currency formatted for pt-BR, the converted
total, and a chart that updates live when a sale arrives (CONTRACT section 12)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chegouhub.devtools.payloads import order_payload
from chegouhub.sales.models import TaxaCambio

from .conftest import login, send_webhook

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]


def test_sales_totals_and_chart_update_live_when_a_sale_arrives(demo, page_factory):
    TaxaCambio.objects.create(owner=demo.user, moeda="USD", moeda_relatorio="BRL", taxa="5.00",
                              vigente_desde="2020-01-01")
    send_webhook(demo.server, demo.loja, "orders/paid",
                 order_payload(9001, [(1, "CAM-AZUL-M", 1)], total=("1234.56", "BRL")))
    page = page_factory()
    login(page, demo.server, to="/vendas/")
    totals = page.get_by_label("Vendas por moeda")
    expect(totals.locator('li[data-moeda="BRL"]')).to_contain_text("R$\u00a01.234,56")
    chart = page.locator("#vendas-grafico")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart).to_have_attribute("data-series", "BRL")

    # a sale in another currency arrives: the panel reloads by itself, a second series appears
    send_webhook(demo.server, demo.loja, "orders/paid",
                 order_payload(9002, [(1, "MEIA-KIT", 2)], total=("10.00", "USD"), presented=("52.00", "BRL")))
    expect(totals.locator('li[data-moeda="USD"]')).to_contain_text("US$\u00a010,00", timeout=5000)
    expect(chart).to_have_attribute("data-series", "BRL,USD")
    expect(page.locator("#vendas-convertido")).to_contain_text("R$\u00a01.284,56")  # 1,234.56 + 10.00 x 5
    expect(chart).to_have_attribute("aria-label", "Vendas brutas por dia: BRL R$\u00a01.234,56, USD US$\u00a010,00")


def test_the_chart_spans_the_period_in_brasilia_time_with_one_scale_per_currency(demo, page_factory):
    send_webhook(demo.server, demo.loja, "orders/paid",
                 order_payload(9101, [(1, "CAM-AZUL-M", 1)], total=("1234.56", "BRL")))
    send_webhook(demo.server, demo.loja, "orders/paid",
                 order_payload(9102, [(1, "MEIA-KIT", 1)], total=("10.00", "USD"), presented=("52.00", "BRL")))
    for width, height in ((1280, 900), (390, 844)):
        page = page_factory(width=width, height=height)
        login(page, demo.server, to="/vendas/")
        chart = page.locator("#vendas-grafico")
        expect(chart).to_have_attribute("data-series", "BRL,USD")
        # one day of data is drawn on the period's seven days, not on the data's own range
        span = int(chart.get_attribute("data-fim")) - int(chart.get_attribute("data-inicio"))
        assert span == 7 * 86400
        x, brl, usd = page.evaluate("window.chegouhubVendas.rotulos()")
        assert x and all(re.fullmatch(r"\d{2}/\d{2}", label) for label in x), x  # dd/mm, never "Dec" or 2029
        assert all(label.startswith("R$") for label in brl) and all(label.startswith("US$") for label in usd)
        # the canvas fits the phone's width
        box = chart.locator("canvas").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.get_by_label("Período").select_option("1")
    page.wait_for_function("() => window.chegouhubVendas.rotulos()[0].every(l => /^\\d{2}:\\d{2}$/.test(l))")
