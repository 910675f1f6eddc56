"""A catalog import started from the dashboard, run by a real worker process, watched live in two
dashboards (server and worker share PostgreSQL and Redis, as in a deployment)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import PASSWORD, browser, login, open_page, page_factory  # noqa: F401 (fixtures)
from tests.devtools.fake_fixtures import register
from tests.live import ROOT, LiveServer
from tests.realtime.conftest import REDIS_TEST_URL, redis_answers, unavailable

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server_and_worker(browser, django_db_setup, django_db_blocker, fake_shopify_server):
    if not redis_answers(REDIS_TEST_URL):
        unavailable(f"Redis is not reachable at {REDIS_TEST_URL}")
    env = {"DJANGO_ALLOW_ASYNC_UNSAFE": "", "SHOPIFY_ADMIN_URL_TEMPLATE": fake_shopify_server.admin_url_template,
           "CHANNEL_LAYER_PREFIX": f"t{uuid.uuid4().hex[:10]}"}
    with django_db_blocker.unblock():
        server = LiveServer(redis_url=REDIS_TEST_URL, env=env).start()
    log = open(ROOT / "artifacts" / f"import-worker-{server.port}.log", "wb")
    worker = subprocess.Popen([sys.executable, "manage.py", "import_catalog", "--worker", "--interval", "0.3"],
                              cwd=ROOT, env=dict(server.env), stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    yield server
    os.killpg(worker.pid, 15)
    worker.wait(timeout=10)
    log.close()
    server.stop()


def row(page, sku: str):
    return page.locator(f'#linhas-estoque tr[data-sku="{sku}"]')


def test_import_the_catalog_and_watch_its_progress_in_both_dashboards(server_and_worker, transactional_db,
                                                                       make_user, make_loja, make_produto,
                                                                       fake_shopify_server, page_factory):
    user = make_user("carla", password=PASSWORD)
    loja = make_loja(user)
    make_produto(loja, "CANECA-01", estoque=3, minimo=1, nome="Caneca de cerâmica")
    fake = fake_shopify_server
    fake.reset()
    register(fake, [loja], bucket_size=20_000, restore_rate=20_000)
    fake.add_products(loja.shop_domain, [
        {"title": "Caneca de cerâmica", "variants": [{"sku": "CANECA-01", "available": 99}]},  # exists: linked
        {"title": "Garrafa", "variants": [{"sku": "GARRAFA-1L", "available": 7}]},
        {"title": "Vale-presente", "variants": [{"sku": None}]},
    ])
    a, b = page_factory(), page_factory()
    for page in (a, b):
        login(page, server_and_worker, to="/lojas/")
        expect(page.locator("html")).to_have_attribute("data-bancada", "pronta")
    produtos = open_page(b, server_and_worker, "/produtos/")
    a.get_by_role("button", name="Importar catálogo").click()
    done = "Importação concluída: 1 produto criado, 1 vinculado, 1 variante sem SKU."
    for page in (a, b):  # b never clicked: it learns of the import live
        expect(page.locator("#importacao-status")).to_have_text(done, timeout=15_000)
    # the Produtos page takes the new produtos in, live
    expect(row(produtos, "GARRAFA-1L").locator(".estoque-atual")).to_have_text("7")
    expect(row(produtos, "CANECA-01").locator(".estoque-atual")).to_have_text("3")  # never overwritten
    bar = a.locator("#progresso-importacao")
    expect(bar).to_have_attribute("max", "3")
    assert bar.evaluate("p => p.value") == 3
    expect(a.get_by_role("button", name="Importar catálogo")).to_be_enabled()
