"""`make run`: after some orders the demo's Shopify asks for the sample customer's data and then for
its removal; the worker does both and the dashboard's privacy section shows them done."""

from __future__ import annotations

import time

import pytest

from chegouhub.devtools.compliance import sample_customer
from tests.dashboard.test_demo import ctrl_c, session, start_demo, wait_for
from tests.live import free_port

pytestmark = pytest.mark.live


def test_the_demo_shows_a_redaction_done(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_PRIVACY_AFTER_SECONDS", "6")
    port, shopify_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = start_demo(tmp_path, port, shopify_port, "--rate", "8")
    try:
        wait_for(f"{base}/healthz", proc, log)
        client = session(base)
        deadline, done = time.monotonic() + 60, []
        while time.monotonic() < deadline and len(done) < 2:
            answer = client.get("/api/privacidade/pedidos/")
            assert answer.status_code == 200, (answer.status_code, answer.text[:500])
            results = answer.json()["results"]
            done = [p for p in results if p["status"] == "concluido"]
            time.sleep(0.5)
        assert sorted(p["tipo"] for p in done) == ["apagar_cliente", "dados_cliente"], log.read_text()[-3000:]
        redact = next(p for p in done if p["tipo"] == "apagar_cliente")
        assert redact["relatorio"]["total_redigidas"] >= 1
        page = client.get("/privacidade/").text
        assert "Apagar cliente (customers/redact)" in page and "cópia(s) redigida(s)" in page
        assert sample_customer()["email"] not in client.get("/api/privacidade/pedidos/").text
    finally:
        ctrl_c(proc, log)
