"""Real server processes for tests that are about sockets, processes and concurrency.

A `LiveServer` runs `config.asgi:application` under uvicorn (or daphne) in a subprocess,
against the test database of the current test (use `django_db(transaction=True)` so what
the test writes is committed and visible to the server).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL for the database the current test is using."""
    s = connection.settings_dict
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def scratch_database_url(suffix: str) -> str:
    """A new, empty database beside the suite's (dropped first if a run left it), on the same server."""
    import psycopg

    base, name = os.environ["DATABASE_URL"].rsplit("/", 1)
    name = f"{name}_{suffix}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


class LiveServer:
    def __init__(self, *, workers: int = 1, redis_url: str | None = None, server: str = "uvicorn",
                 env: dict[str, str] | None = None, log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.workers = workers
        self.server = server
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=test_database_url(),
            DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-only-secret-key"),
            DJANGO_DEBUG="false",
            LOG_DIR=str(log_dir or Path(os.environ.get("LOG_DIR", ROOT / "artifacts" / "logs"))),
            PYTHONUNBUFFERED="1",
            # Its fake Shopify and its own address are http://127.0.0.1 (see tests/conftest.py).
            WEBHOOK_ALLOW_INSECURE_URLS="true",
        )
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        if env:
            self.env.update(env)
        self.proc: subprocess.Popen | None = None
        self.output_path = ROOT / "artifacts" / f"server-{self.port}.log"

    def command(self) -> list[str]:
        if self.server == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"]
        return [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers), "--no-access-log",
                "--ws-per-message-deflate", "false", "--log-level", "warning"]

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.output_path, "wb")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.output_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        if getattr(self, "_out", None):
            self._out.close()

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
