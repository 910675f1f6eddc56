"""`make run` end to end: no DATABASE_URL, so a fresh embedded PostgreSQL, the fake Shopify, the
server, the simulated store; a subscribed browser (the tests' push service) gets a push when the
simulated store sells a produto out; Ctrl-C stops all of it, the database server included, and a
second run reuses the data and the VAPID keys."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.push.push_service import PushService

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]



def paid_movements(client, loja_id: int) -> int:
    """The movements list pages by cursor (no count): the demo's sales fit in one 500-row page."""
    return len(client.get("/api/estoque/movimentacoes/", params={
        "loja_id": loja_id, "origem": "shopify_pedido_pago", "page_size": 500}).json()["results"])

def start_demo(tmp_path: Path, port: int, shopify_port: int, *extra: str) -> tuple[subprocess.Popen, Path]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    # the embedded PostgreSQL's data in the test's directory, as in the checkout's .pgdata/ on a fresh clone
    env.update(EMBEDDED_PG_DIR=str(tmp_path / "pgdata"), LOG_DIR=str(tmp_path / "logs"),
               DJANGO_DEBUG="true", PYTHONUNBUFFERED="1")
    env.pop("DJANGO_SECRET_KEY", None)  # as on a fresh clone: DJANGO_DEBUG=true and no key
    out = tmp_path / f"demo-{port}.log"
    proc = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(port), "--shopify-port",
                             str(shopify_port), *extra], cwd=ROOT, env=env, stdout=open(out, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, out


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not up:\n{log.read_text()[-3000:]}")


def ctrl_c(proc: subprocess.Popen, log: Path) -> None:
    os.kill(proc.pid, signal.SIGINT)
    try:
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def embedded_postgres_stopped(tmp_path: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while (tmp_path / "pgdata" / "data" / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def wait_for_banner(proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """The demo prints its banner once the loja is connected (install flow) and its catalog imported."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        if "ChegouHub is running" in log.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"no banner:\n{log.read_text()[-3000:]}")


async def first_event(url: str, session_key: str, type_: str, timeout: float = 20.0) -> dict:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers={"Cookie": f"sessionid={session_key}"}, open_timeout=5) as sock:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(sock.recv(), max(deadline - time.monotonic(), 0.1)))
            if message["type"] == type_:
                return message
    raise AssertionError(f"no {type_} within {timeout} s")


def session(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    r = client.post("/api/auth/login/", json={"username": "demo", "password": "chegouhub-demo"})
    assert r.status_code == 200, r.text
    return client


def test_make_run_serves_a_live_demo_and_stops_cleanly(tmp_path, monkeypatch):
    # As on a fresh clone: no VAPID keys in the environment, the demo makes its own (issue 18).
    keys_file = tmp_path / "vapid.json"
    for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEMO_VAPID_FILE", str(keys_file))
    push_service = PushService().start()
    port, shopify_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = start_demo(tmp_path, port, shopify_port, "--rate", "8")
    try:
        wait_for(f"{base}/healthz", proc, log)
        # A browser turns notifications on (what push.js sends after pushManager.subscribe()),
        # before the simulated store starts selling.
        pusher = session(base)
        chave = pusher.get("/api/push/chave-publica/").json()["chave"]
        assert chave == json.loads(keys_file.read_text())["VAPID_PUBLIC_KEY"]
        assert keys_file.stat().st_mode & 0o077 == 0  # the private key file is the owner's only
        device = push_service.new_browser(server_key=chave)
        r = pusher.post("/api/push/inscricoes/", json=device.subscription(),
                        headers={"X-CSRFToken": pusher.cookies.get("csrftoken", "")})
        assert r.status_code == 201, r.text  # http://127.0.0.1 is allowed: the demo runs with DJANGO_DEBUG=true
        assert httpx.get(f"http://127.0.0.1:{shopify_port}/_fake/health").status_code == 200
        wait_for_banner(proc, log)
        client = session(base)
        assert "Estoque" in client.get("/produtos/").text
        (loja,) = [lj for lj in client.get("/api/lojas/").json()["results"] if lj["shop_domain"] == "chegouhub-demo.myshopify.com"]
        assert loja["shop_domain"] == "chegouhub-demo.myshopify.com" and loja["nome"] == "Loja Demo ChegouHub"
        # connected through the install flow, its catalog imported from the fake Shopify
        (importacao,) = client.get("/api/importacoes/", params={"loja_id": loja["id"]}).json()["results"]
        assert (importacao["status"], importacao["criados"], importacao["sem_sku"]) == ("concluida", 20, 1)
        assert client.get("/api/estoque/produtos/", params={"loja_id": loja["id"]}).json()["count"] == 20
        assert client.get("/api/estoque/variantes/", params={"loja_id": loja["id"]}).json()["count"] == 20
        # the server speaks to the fake Shopify: connectivity works and the webhooks were configured
        conn = client.get("/api/sync-realtime/test-connectivity/", params={"loja_id": loja["id"]}).json()
        assert conn["conectado"] is True, conn
        assert client.get(f"/api/lojas/{loja['id']}/").json()["webhook_status"] == "configurado"
        # the simulated store sells
        deadline = time.monotonic() + 20
        sold = 0
        while time.monotonic() < deadline and sold < 3:
            sold = paid_movements(client, loja["id"])
            time.sleep(0.5)
        assert sold >= 3, log.read_text()[-3000:]
        # Issue 17: the outlet store shares the demo loja's depósito, both push: its Shopify hears of
        # the sales (push_stock confirmed quantities at it) and the status endpoint says so.
        outlet = "chegouhub-demo-outlet.myshopify.com"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            calls = httpx.get(f"http://127.0.0.1:{shopify_port}/_fake/shops/{outlet}/stats").json()
            status = {row["loja_id"]: row for row in client.get("/api/estoque/sincronizacao/").json()["lojas"]}
            synced = [row for row in status.values() if row["deposito_id"] == status[loja["id"]]["deposito_id"]
                      and row["sincronizar_estoque"] and row["ultimo_envio"]]
            if calls.get("set_quantities_calls", 0) >= 1 and len(synced) == 2:
                break
            time.sleep(0.5)
        else:
            raise AssertionError((calls, status, log.read_text()[-3000:]))
        # ... live on the outlet's dashboard socket: push_stock's confirmations are recorded by
        # another process than the server's (its own in-memory channel layer): the log relay.
        (outlet_loja,) = [lj for lj in client.get("/api/lojas/").json()["results"] if lj["shop_domain"] == outlet]
        synced = asyncio.run(first_event(f"ws://127.0.0.1:{port}/ws/estoque/?loja_id={outlet_loja['id']}",
                                         client.cookies["sessionid"], "estoque_sincronizado_shopify"))
        assert synced["data"]["deposito_id"] == loja["deposito_id"], synced
        # ... and sells a produto out: the push worker delivers "Estoque zerado" to the browser
        # (VAPID checked and the aes128gcm body decrypted by the push service).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(p["type"] == "estoque_zero"
                                                      for p in push_service.payloads(device)):
            time.sleep(0.5)
        assert push_service.refused == []
        zero = [p for p in push_service.payloads(device) if p["type"] == "estoque_zero"]
        assert zero, (push_service.payloads(device), log.read_text()[-3000:])
        # The demo loja and the outlet share one depósito: a produto sold out in either store is theirs.
        shared = {lj["id"] for lj in client.get("/api/lojas/").json()["results"]
                  if lj["deposito_id"] == loja["deposito_id"]}
        assert len(shared) == 2
        one = zero[0]["title"].startswith("Estoque zerado: ") and any(
            zero[0]["url"].startswith(f"/?loja={i}&produto=") for i in shared)
        several = (re.fullmatch(r"\d+ produtos zeraram na Loja Demo (ChegouHub|Outlet)", zero[0]["title"]) is not None
                   and zero[0]["url"] in {f"/?loja={i}" for i in shared})  # more in one pass: collapsed into one
        assert one or several, zero
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text and "demo / chegouhub-demo" in text
    finally:
        ctrl_c(proc, log)
        push_service.stop()
    # everything it started is gone: both ports are free again
    for p in (port, shopify_port):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{p}/", timeout=1)
    assert "Demo stopped" in log.read_text()
    assert "embedded PostgreSQL on 127.0.0.1:" in log.read_text()
    assert embedded_postgres_stopped(tmp_path)

    # a second run reuses the data
    proc, log = start_demo(tmp_path, port, shopify_port, "--no-simulator")
    try:
        wait_for(f"{base}/healthz", proc, log)
        wait_for_banner(proc, log)
        client = session(base)
        (again,) = [lj for lj in client.get("/api/lojas/").json()["results"]
                    if lj["shop_domain"] == "chegouhub-demo.myshopify.com"]
        assert again["id"] == loja["id"]
        imports = client.get("/api/importacoes/", params={"loja_id": loja["id"]}).json()["results"]
        assert len(imports) == 2 and (imports[0]["status"], imports[0]["criados"]) == ("concluida", 0)
        assert client.get("/api/estoque/produtos/", params={"loja_id": loja["id"]}).json()["count"] == 20
        kept = paid_movements(client, loja["id"])
        assert kept >= sold
        # the same VAPID keys: the browsers subscribed in the first run keep receiving
        assert client.get("/api/push/chave-publica/").json()["chave"] == chave
    finally:
        ctrl_c(proc, log)
    assert embedded_postgres_stopped(tmp_path)
