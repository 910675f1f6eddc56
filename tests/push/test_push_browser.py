"""Web Push in Debian's Chromium (DESIGN, "Testing facts"): the service worker at /sw.js shows a
pushed message, its click opens the dashboard on the produto, and the "Ativar notificações"
control subscribes this browser, so that a produto selling out reaches it.

Headless Chromium has no push service of its own (it would register with the vendor's, beyond this
machine): messages are handed to the worker through CDP `ServiceWorker.deliverPushMessage`, and in
the subscription test `pushManager.subscribe` answers with a subscription of the tests' local push
service (keys made as a browser makes them), which checks VAPID and decrypts what the server sends.
"""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect
from django.core.management import call_command

from tests.dashboard.conftest import FAST_CLIENT, PASSWORD, browser, login, page_factory, sell  # noqa: F401 (fixtures)
from tests.push.conftest import VAPID_PRIVATE, VAPID_PUBLIC

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]


@pytest.fixture(scope="module")
def push_server(browser, django_db_setup, django_db_blocker):  # noqa: F811
    from tests.live import LiveServer

    env = {"DJANGO_ALLOW_ASYNC_UNSAFE": "", "VAPID_PRIVATE_KEY": VAPID_PRIVATE, "VAPID_PUBLIC_KEY": VAPID_PUBLIC,
           "VAPID_SUBJECT": "mailto:testes@chegouhub.com.br", "PUSH_ALLOW_HTTP_LOOPBACK": "true",
           "DJANGO_DEBUG": "true"}  # http to loopback (the local push service) is for debug only
    with django_db_blocker.unblock():
        server = LiveServer(env=env).start()
    yield server
    server.stop()


@pytest.fixture
def loja_demo(push_server, transactional_db, make_user, make_loja, make_produto):
    user = make_user("carla", password=PASSWORD)
    loja = make_loja(user, secret="shpss_push_secret")
    caneca = make_produto(loja, "CANECA-01", estoque=1, minimo=0, nome="Caneca de cerâmica")
    make_produto(loja, "MEIA-KIT", estoque=50, minimo=10, nome="Kit de meias")
    return loja, caneca


def registration_id(page, cdp, origin: str) -> str:
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for r in registrations:
            if r["scopeURL"] == f"{origin}/" and not r.get("isDeleted"):
                return r["registrationId"]
        page.wait_for_timeout(50)  # not time.sleep: Playwright delivers CDP events while it waits
    raise AssertionError(f"no service worker registration for {origin}/: {registrations}")


NOTIFICATIONS = """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => ({
  title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"""


def shown(page, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        notes = page.evaluate(NOTIFICATIONS)
        if len(notes) >= count:
            return notes
        page.wait_for_timeout(50)
    return page.evaluate(NOTIFICATIONS)


def dashboard_with_worker(page_factory, server, init_scripts=()):  # noqa: F811
    page = page_factory(init_scripts=(FAST_CLIENT, *init_scripts))
    page.context.grant_permissions(["notifications"], origin=server.url)
    login(page, server, to="/notificacoes/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # the worker controls the page
    return page


def test_manifest_and_worker_make_the_dashboard_installable(push_server):
    import httpx

    manifest = httpx.get(f"{push_server.url}/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    data = manifest.json()
    assert data["display"] == "standalone" and data["start_url"] == "/"
    for icon in data["icons"]:
        png = httpx.get(f"{push_server.url}{icon['src']}")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png.content[16:20], "big"), int.from_bytes(png.content[20:24], "big")
        assert f"{width}x{height}" == icon["sizes"]
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    sw = httpx.get(f"{push_server.url}/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")


def test_a_push_shows_a_notification_and_its_click_opens_the_produto(page_factory, push_server,  # noqa: F811
                                                                    loja_demo):
    loja, caneca = loja_demo
    page = dashboard_with_worker(page_factory, push_server)
    page.goto(f"{push_server.url}/?loja={loja.pk}")  # somewhere else than the produto
    cdp = page.context.new_cdp_session(page)
    payload = {"type": "estoque_zero", "title": "Estoque zerado: Caneca de cerâmica",
               "body": f"Caneca de cerâmica (SKU CANECA-01) zerou na {loja.nome}.",
               "url": f"/?loja={loja.pk}&produto={caneca.pk}", "id": 7, "tag": f"estoque_zero-{loja.pk}"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": push_server.url,
                                                  "registrationId": registration_id(page, cdp, push_server.url),
                                                  "data": json.dumps(payload)})
    assert shown(page) == [{"title": payload["title"], "body": payload["body"], "tag": payload["tag"],
                            "url": payload["url"]}]

    # The click, as the worker's notificationclick handler runs it (a headless browser has no
    # notification to click): the open dashboard tab is taken to the produto.
    (worker,) = [w for w in page.context.service_workers if w.url == f"{push_server.url}/sw.js"]
    worker.evaluate("self.registration.getNotifications().then(ns => abrirNotificacao(ns[0])).then(() => true)")
    page.wait_for_url(f"{push_server.url}/?loja={loja.pk}&produto={caneca.pk}")
    page.wait_for_selector(f"tr.destacado[data-produto-id='{caneca.pk}']")
    assert shown(page, 0) == []  # the clicked notification is closed


FAKE_SUBSCRIPTION = """
(() => {
  const sub = %s;
  // The browser keeps its subscription across reloads: so does the fake (sessionStorage).
  let current = null;
  const fake = {
    endpoint: sub.endpoint, expirationTime: null,
    toJSON: () => ({endpoint: sub.endpoint, expirationTime: null, keys: {p256dh: sub.p256dh, auth: sub.auth}}),
    unsubscribe: async () => { current = null; sessionStorage.removeItem("__fakeSub"); return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__applicationServerKey = btoa(String.fromCharCode(...key)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    window.__userVisibleOnly = options.userVisibleOnly;
    current = fake;
    sessionStorage.setItem("__fakeSub", "1");
    return fake;
  };
  if (sessionStorage.getItem("__fakeSub")) current = fake;
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def test_ativar_notificacoes_subscribes_and_a_sold_out_produto_reaches_the_browser(
        page_factory, push_server, loja_demo, push_service):  # noqa: F811
    loja, caneca = loja_demo
    device = push_service.new_browser(server_key=VAPID_PUBLIC)
    script = FAKE_SUBSCRIPTION % json.dumps({"endpoint": device.endpoint, "p256dh": device.p256dh,
                                             "auth": device.auth_b64})
    page = dashboard_with_worker(page_factory, push_server, init_scripts=(script,))
    page.wait_for_selector("html[data-push=desativadas]")
    assert page.get_by_role("status").filter(has_text="Notificações desativadas").count() == 1
    page.get_by_label("um produto ficar com estoque baixo").check()
    page.get_by_role("button", name="Ativar notificações").click()
    page.wait_for_selector("html[data-push=ativas]")
    assert page.locator("#push-estado").text_content() == "Notificações ativas neste navegador."
    assert page.evaluate("window.__applicationServerKey") == VAPID_PUBLIC
    assert page.evaluate("window.__userVisibleOnly") is True

    from chegouhub.push.models import Inscricao

    (inscricao,) = Inscricao.objects.filter(user=loja.owner)
    assert inscricao.endpoint == device.endpoint and inscricao.auth == device.auth_b64
    assert set(inscricao.tipos) == {"produto_estoque_zero", "alerta_estoque_gerado", "alerta_estoque_baixo",
                                    "webhook_status_change"}

    sell(push_server, loja, 5001, [("CANECA-01", 1)])  # the last caneca is sold
    call_command("send_push", "--once")
    assert push_service.refused == []
    (payload,) = push_service.payloads(device)
    assert payload["title"] == "Estoque zerado: Caneca de cerâmica"
    assert payload["url"] == f"/?loja={loja.pk}&produto={caneca.pk}"

    # What the push service would hand this browser, handed to its worker.
    cdp = page.context.new_cdp_session(page)
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": push_server.url,
                                                  "registrationId": registration_id(page, cdp, push_server.url),
                                                  "data": json.dumps(payload)})
    assert [n["title"] for n in shown(page)] == ["Estoque zerado: Caneca de cerâmica"]

    page.reload()
    page.wait_for_selector("html[data-push=ativas]")  # the state survives a reload
    page.get_by_role("button", name="Desativar notificações").click()
    page.wait_for_selector("html[data-push=desativadas]")
    assert not Inscricao.objects.filter(user=loja.owner).exists()


DENIED = """Object.defineProperty(Notification, "permission", {get: () => "denied"});
Notification.requestPermission = async () => "denied";"""
UNSUPPORTED = "delete window.PushManager;"


@pytest.mark.parametrize("script, estado, texto", [
    (DENIED, "bloqueadas", "Bloqueadas pelo navegador"),
    (UNSUPPORTED, "nao_suportadas", "Não suportadas neste navegador"),
])
def test_the_control_tells_when_the_browser_blocks_or_lacks_push(page_factory, push_server, loja_demo,  # noqa: F811
                                                                 script, estado, texto):
    page = page_factory(init_scripts=(FAST_CLIENT, script))
    login(page, push_server, to="/notificacoes/")
    page.wait_for_selector(f"html[data-push={estado}]")
    assert texto in page.locator("#push-estado").text_content()
    assert page.get_by_role("button", name="Ativar notificações").is_disabled()


GRANTED = """Object.defineProperty(Notification, "permission", {get: () => "granted"});
Notification.requestPermission = async () => "granted";
window.__CHEGOUHUB_PUSH__ = {prazoMs: 1000};"""
REFUSED = GRANTED + """PushManager.prototype.getSubscription = async () => null;
PushManager.prototype.subscribe = async () => {
  throw new DOMException("Registration failed - permission denied", "NotAllowedError"); };"""
UNREACHABLE = GRANTED + """PushManager.prototype.getSubscription = async () => null;
PushManager.prototype.subscribe = async () => {
  throw new DOMException("Registration failed - push service error", "AbortError"); };"""
HANGS = GRANTED + """PushManager.prototype.getSubscription = async () => null;
PushManager.prototype.subscribe = () => new Promise(() => {});"""


@pytest.mark.parametrize("script, texto", [
    (REFUSED, "Não foi possível ativar: o navegador recusou a permissão. Permita as notificações deste site"),
    (UNREACHABLE, "Não foi possível ativar: o serviço de notificações do navegador está inacessível agora."),
    (HANGS, "Não foi possível ativar: o navegador não respondeu em 1 segundo."),
])
def test_a_failed_activation_says_why_in_portuguese_and_ends(page_factory, push_server, loja_demo,  # noqa: F811
                                                             script, texto):
    page = dashboard_with_worker(page_factory, push_server, init_scripts=(script,))
    page.wait_for_selector("html[data-push=desativadas]")
    page.get_by_role("button", name="Ativar notificações").click()
    expect(page.locator("#push-estado")).to_contain_text(texto)
    assert "Registration failed" not in page.locator("#push-estado").text_content()
    expect(page.get_by_role("button", name="Ativar notificações")).to_be_enabled()  # never stuck on "Ativando…"
