"""`make run` with push: the demo makes its own VAPID keys (kept for the next run), runs the push
worker, and a produto that sells out reaches a subscribed browser (here the tests' push service;
the browser side is test_push_browser.py)."""

from __future__ import annotations

import json
import time

import pytest

from tests.dashboard.test_demo import ctrl_c, session, start_demo, wait_for
from tests.live import free_port

pytestmark = [pytest.mark.live, pytest.mark.sqlite]  # `make run` is the embedded default: SQLite


def test_the_demo_pushes_a_sold_out_produto_to_a_subscribed_browser(tmp_path, monkeypatch, push_service):
    keys_file = tmp_path / "vapid.json"
    for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEMO_VAPID_FILE", str(keys_file))
    port, shopify_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = start_demo(tmp_path, port, shopify_port, "--no-simulator")
    try:
        wait_for(f"{base}/healthz", proc, log)
        client = session(base)
        chave = client.get("/api/push/chave-publica/").json()["chave"]
        assert chave == json.loads(keys_file.read_text())["VAPID_PUBLIC_KEY"]
        assert keys_file.stat().st_mode & 0o077 == 0  # the private key file is the owner's only

        device = push_service.new_browser(server_key=chave)
        csrf = {"X-CSRFToken": client.cookies.get("csrftoken", "")}
        r = client.post("/api/push/inscricoes/", json=device.subscription(), headers=csrf)
        assert r.status_code == 201, r.text  # http://127.0.0.1 is allowed: the demo runs with DJANGO_DEBUG=true

        (loja,) = client.get("/api/lojas/").json()["results"]
        produto = next(p for p in client.get("/api/estoque/produtos/", params={"loja_id": loja["id"]}).json()["results"]
                       if p["estoque_atual"] > 0)
        r = client.post(f"/api/estoque/produtos/{produto['id']}/movimentacoes/", headers=csrf,
                        json={"quantidade": -produto["estoque_atual"], "motivo": "Vendido no balcão"})
        assert r.status_code == 201, r.text

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not push_service.payloads(device):
            time.sleep(0.2)
        assert push_service.refused == []
        titles = [p["title"] for p in push_service.payloads(device)]
        assert f"Estoque zerado: {produto['nome']}" in titles, log.read_text()[-3000:]
    finally:
        ctrl_c(proc, log)

    # The next run keeps the keys, so the browsers subscribed today keep receiving.
    proc, log = start_demo(tmp_path, port, shopify_port, "--no-simulator")
    try:
        wait_for(f"{base}/healthz", proc, log)
        assert session(base).get("/api/push/chave-publica/").json()["chave"] == chave
    finally:
        ctrl_c(proc, log)
