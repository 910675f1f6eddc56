"""The deployment files hold together: the Procfile's commands exist, the entrypoint starts a
real server and a real worker, and the dashboard and alert rules only use metrics the app exposes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from django.core.management import get_commands

from tests.live import ROOT, free_port
from tests.live import test_database_url as live_database_url

METRIC = re.compile(r"\bchegouhub_[a-z_]+\b")


def exposed_metric_names(client) -> set[str]:
    text = client.get("/metrics").content.decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def uses(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def known(name: str, exposed: set[str]) -> bool:
    return name in exposed or re.sub(r"_(bucket|count|sum)$", "", name) in exposed


@pytest.mark.django_db
def test_dashboard_is_valid_and_uses_only_exposed_metrics(client):
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    assert dashboard["title"] and dashboard["panels"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 12
    exposed = exposed_metric_names(client)
    used = set().union(*(uses(e) for e in exprs))
    missing = {m for m in used if not known(m, exposed)}
    assert not missing, missing
    # everything the issue asks for is on the dashboard
    for needed in ("chegouhub_webhooks_total", "chegouhub_webhook_processing_seconds_bucket",
                   "chegouhub_open_websockets", "chegouhub_channel_publish_failures_total",
                   "chegouhub_webhook_retry_backlog", "chegouhub_active_alerts"):
        assert needed in used, needed
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.django_db
def test_alert_rules_use_only_exposed_metrics(client):
    rules = yaml.safe_load((ROOT / "ops" / "prometheus-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    exposed = exposed_metric_names(client)
    missing = {m for e in exprs for m in uses(e) if not known(m, exposed)}
    assert exprs and not missing, missing


def test_procfile_commands_exist():
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    kinds = {line.split(":", 1)[0] for line in lines}
    assert {"web", "worker", "release"} <= kinds
    commands = get_commands()
    for line in lines:
        cmd = line.split(":", 1)[1].split()
        if cmd[:2] == ["python", "manage.py"]:
            assert cmd[2] in commands, cmd
        else:
            assert os.access(ROOT / cmd[0], os.X_OK), cmd


def test_dockerfile_copies_what_exists_and_uses_the_entrypoint():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M):
        assert (ROOT / src).exists(), src
    assert '"/app/ops/entrypoint.sh"' in dockerfile
    assert subprocess.run(["sh", "-n", str(ROOT / "ops" / "entrypoint.sh")]).returncode == 0


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 40.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else "exited"
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_entrypoint_runs_web_and_worker(tmp_path):
    env = dict(os.environ, DATABASE_URL=live_database_url(), DJANGO_SECRET_KEY="entrypoint-test",
               DJANGO_DEBUG="false", METRICS_TOKEN="entrypoint-metrics", WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
               LOG_DIR=str(tmp_path / "logs"),
               PATH=f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")  # `python` is this venv's
    env.pop("REDIS_URL", None)
    web_port, worker_port = free_port(), free_port()
    web = subprocess.Popen([str(ROOT / "ops" / "entrypoint.sh"), "web"], cwd=ROOT, env=dict(env, PORT=str(web_port)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    worker = subprocess.Popen([str(ROOT / "ops" / "entrypoint.sh"), "worker"], cwd=ROOT,
                              env=dict(env, WORKER_METRICS_PORT=str(worker_port),
                                           # its own directory, as in its own container: the entrypoint empties it
                                           PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-worker")),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _wait_http(f"http://127.0.0.1:{web_port}/healthz", web).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{web_port}/readyz", timeout=5).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{web_port}/metrics", timeout=5,
                            headers={"Authorization": "Bearer entrypoint-metrics"})
        assert metrics.status_code == 200 and "chegouhub_webhook_retry_backlog" in metrics.text
        worker_metrics = _wait_http(f"http://127.0.0.1:{worker_port}/metrics", worker)
        assert worker_metrics.status_code == 200
        assert "chegouhub_webhook_retry_backlog" in worker_metrics.text
    finally:
        for proc in (web, worker):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in (web, worker)]
    assert codes == [0, 0], [p.stdout.read().decode()[-2000:] for p in (web, worker)]
