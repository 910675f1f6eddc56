"""`make test` runs the flash-sale benchmark once, quick, to prove it works (figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# It brings its own PostgreSQL database and servers: run once, in the PostgreSQL pass.
pytestmark = [pytest.mark.postgres, pytest.mark.live, pytest.mark.timeout(240)]


def test_quick_benchmark_completes_with_every_event_delivered_and_exact_stock(tmp_path):
    out = tmp_path / "bench-quick.json"
    proc = subprocess.run([sys.executable, "-m", "bench.flash_sale", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "quick"
    assert out.with_suffix(".png").stat().st_size > 10_000
    loads = {r["name"]: r for r in report["load"]}
    assert loads["floor-uvicorn-w2"]["ok"] > 0
    project = loads["uvicorn-fanout-w2"]
    assert project["ok"] > 0 and project["errors"] == 0, project
    assert project["delivery_ratio"] == 1.0, project
    assert project["sales_delivered"] == project["sales_expected"], project
    assert all(r["stock_exact"] and r["movements_exact"] for r in report["load"]), report["load"]
    (sockets,) = report["sockets"]
    assert sockets["sockets_open"] == sockets["sockets_wanted"] and sockets["delivered"] == sockets["sockets_open"]
    assert sockets["rss_per_socket_kb"] is not None
