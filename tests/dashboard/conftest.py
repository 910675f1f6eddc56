"""Browser fixtures: Playwright's Python package driving Debian's chromium against a LiveServer."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest

from chegouhub.devtools.payloads import encode, order_payload, refund_payload, signed_headers
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"]
PASSWORD = "senha-forte-123"

# Test knobs read by realtime.js: quick polling and short backoff keep the browser tests bounded.
FAST_CLIENT = "window.__CHEGOUHUB_RT__ = {pollIntervalMs: 250, backoffBaseMs: 100, backoffCapMs: 600};"

# Stands in for a proxy or network that refuses WebSockets: while window.__wsBlocked is true every
# socket goes to a closed port and fails as a blocked connection does (error, then close 1006).
BLOCK_WEBSOCKETS = """
(() => {
  const Real = window.WebSocket;
  window.__wsBlocked = true;
  window.__wsOpened = [];
  function Gate(url, protocols) {
    if (window.__wsBlocked) return new Real("ws://127.0.0.1:9/bloqueado", protocols);
    window.__wsOpened.push(String(url));
    return new Real(url, protocols);
  }
  Gate.prototype = Real.prototype;
  Object.assign(Gate, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Gate;
})();
"""


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a pinned test dependency
        if IN_CI:
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if IN_CI:
            pytest.fail(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # Playwright's sync API keeps an event loop running in this thread, which makes Django refuse the
    # test's own ORM calls. Allowed here for the test process only (servers get it switched off), and
    # only while this module's browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                args=CHROMIUM_ARGS,
            )
            yield b
            b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_factory(browser):
    """New isolated pages (own cookies); console errors of the page's own code fail the test."""
    contexts = []
    page_errors: list[str] = []

    def make(*, width: int = 1280, height: int = 900, init_scripts: tuple[str, ...] = (FAST_CLIENT,)):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="pt-BR")
        context.set_default_timeout(8000)
        for script in init_scripts:
            context.add_init_script(script)
        contexts.append(context)
        # every tab of the context, also those a test opens later (open_page)
        # (not the blank document a new tab starts on: the tests' init scripts run there too)
        context.on("page", lambda tab: tab.on(
            "pageerror", lambda exc: tab.url == "about:blank" or page_errors.append(str(exc))))
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not page_errors, f"JavaScript errors on the page: {page_errors}"


@pytest.fixture(scope="module")
def shared_server(browser, django_db_setup, django_db_blocker, fake_shopify_server):
    """One server process for the module's tests (each test's rows are its own: transactional_db),
    speaking to the fake Shopify."""
    from tests.live import LiveServer

    env = {"DJANGO_ALLOW_ASYNC_UNSAFE": "", "SHOPIFY_ADMIN_URL_TEMPLATE": fake_shopify_server.admin_url_template}
    with django_db_blocker.unblock():
        server = LiveServer(env=env).start()
    yield server
    server.stop()


class Demo:
    pass


@pytest.fixture
def demo(shared_server, transactional_db, make_user, make_loja, make_produto):
    """A user with a loja of four produtos (one already low), and a server running on the test DB."""
    user = make_user("carla", password=PASSWORD)
    # a fresh shop domain per test: the server caches lojas by domain for a few seconds
    loja = make_loja(user, secret="shpss_painel_secret")
    produtos = {
        "CAM-AZUL-M": make_produto(loja, "CAM-AZUL-M", estoque=20, minimo=5, nome="Camiseta azul M"),
        "BONE-PRETO": make_produto(loja, "BONE-PRETO", estoque=6, minimo=5, nome="Boné preto"),
        "CANECA-01": make_produto(loja, "CANECA-01", estoque=3, minimo=4, nome="Caneca de cerâmica"),
        "MEIA-KIT": make_produto(loja, "MEIA-KIT", estoque=50, minimo=10, nome="Kit de meias"),
    }
    d = Demo()
    d.user, d.loja, d.produtos, d.server = user, loja, produtos, shared_server
    return d


def login(page, server, username: str = "carla", password: str = PASSWORD, to: str = "/"):
    """Log in at the page `to` (the login form sends the user on to the page asked for)."""
    page.goto(f"{server.url}{to}")
    page.get_by_label("Usuário").fill(username)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_selector("html[data-painel=pronto]")


def open_page(page, server, to: str):
    """Another tab of the same browser (same session) on the app's page `to`, ready and live."""
    tab = page.context.new_page()
    tab.goto(f"{server.url}{to}")
    tab.wait_for_selector("html[data-painel=pronto]")
    return tab


def send_webhook(server, loja, topic: str, payload: dict, *, webhook_id: str | None = None) -> httpx.Response:
    body = encode(payload)
    headers = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic,
                             webhook_id=webhook_id)
    r = httpx.post(f"{server.url}/api/estoque/webhook/shopify/", content=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r


def sell(server, loja, order_id: int, lines: list[tuple[str | None, int]], **kw) -> httpx.Response:
    payload = order_payload(order_id, [(i + 1, sku, qty) for i, (sku, qty) in enumerate(lines)])
    return send_webhook(server, loja, "orders/paid", payload, **kw)


def refund(server, loja, refund_id: int, order_id: int, lines: list[tuple[int, int, str]]) -> httpx.Response:
    return send_webhook(server, loja, "refunds/create", refund_payload(refund_id, order_id, lines))
