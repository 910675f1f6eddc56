"""The install flow's happy path in a real browser (Debian's chromium): log in, connect a Shopify
store on the fake's authorize page, land on the dashboard, and see the catalog the import worker
(a real `import_catalog --worker` process) brought in."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import PASSWORD, browser, login, open_page, page_factory  # noqa: F401 (fixtures)
from tests.live import ROOT, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]

API_KEY, API_SECRET = "chegouhub-app-navegador", "shpss_segredo_navegador"
SHOP = "loja-do-navegador.myshopify.com"


@pytest.fixture(scope="module")
def install_server(browser, django_db_setup, django_db_blocker, fake_shopify_server):
    env = {
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",
        "SHOPIFY_ADMIN_URL_TEMPLATE": fake_shopify_server.admin_url_template,
        "SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE": fake_shopify_server.authorize_url_template,
        "SHOPIFY_OAUTH_TOKEN_TEMPLATE": fake_shopify_server.token_url_template,
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
    }
    with django_db_blocker.unblock():
        server = LiveServer(env=env).start()
        worker_env = dict(server.env)
        log = open(ROOT / "artifacts" / f"import-worker-{server.port}.log", "wb")
        worker = subprocess.Popen([sys.executable, "manage.py", "import_catalog", "--worker", "--interval", "0.3"],
                                  cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    server.worker = worker
    yield server
    os.killpg(worker.pid, 15)
    worker.wait(timeout=10)
    log.close()
    server.stop()


def test_connect_a_store_through_shopify_and_see_its_catalog(install_server, transactional_db, make_user,
                                                              fake_shopify_server, page_factory):
    fake = fake_shopify_server
    fake.reset()
    fake.add_app(API_KEY, API_SECRET)
    fake.add_shop(SHOP, "", name="Loja do Navegador", bucket_size=20_000, restore_rate=20_000)
    fake.add_products(SHOP, [
        {"title": "Caneca esmaltada", "variants": [{"sku": "CANECA-ESM", "available": 12}]},
        {"title": "Camiseta", "variants": [{"sku": "CAM-AZ-P", "title": "Azul / P", "available": 3},
                                           {"sku": None, "title": "Sem SKU", "available": 1}]},
    ])
    make_user("carla", password=PASSWORD)
    page = page_factory()
    login(page, install_server)

    page.goto(f"{install_server.url}/shopify/instalar/?shop={SHOP}")
    expect(page.get_by_role("heading", name=f"Instalar app em {SHOP}")).to_be_visible()
    page.get_by_role("button", name="Instalar app").click()
    page.wait_for_url(f"{install_server.url}/?loja=*")
    page.wait_for_selector("html[data-painel=pronto]")

    # the worker configures the webhooks and imports the catalog; the page shows it once reloaded
    deadline = time.monotonic() + 20
    painel_url = page.url
    page.goto(painel_url.replace("/?loja=", "/produtos/?loja="))
    page.wait_for_selector("html[data-painel=pronto]")
    while page.locator("#linhas-estoque tr[data-sku]").count() < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
        page.wait_for_selector("html[data-painel=pronto]")
    expect(page.locator('#linhas-estoque tr[data-sku="CANECA-ESM"] .estoque-atual')).to_have_text("12")
    expect(page.locator('#linhas-estoque tr[data-sku="CAM-AZ-P"] .estoque-atual')).to_have_text("3")
    expect(page.locator("#linhas-estoque tr[data-sku]")).to_have_count(2)
    expect(page.get_by_label("Loja", exact=True).locator("option:checked")).to_have_text(f"Loja do Navegador — {SHOP}")
    topics = sorted(s["topic"] for s in fake.subscriptions(SHOP))
    assert topics == ["APP_UNINSTALLED", "ORDERS_CANCELLED", "ORDERS_PAID", "REFUNDS_CREATE"]
