"""Fixtures of the real-time tests: sessions, socket helpers, the real Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import IN_CI
from tests.live import free_port

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


def session_key_for(user) -> str:
    """A real Django session in the database (what login creates), as its key."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def unavailable(reason: str):
    # Under CI a missing Redis is a failure, never a skip.
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


class PrivateRedis:
    """A redis-server of this test alone (never the shared one): it may be stopped and restarted."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.log = Path(__file__).resolve().parents[2] / "artifacts" / f"redis-{self.port}.log"

    def start(self) -> PrivateRedis:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(self.url, timeout=0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def private_redis():
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _publish_not_paused():
    """A publish failure in an earlier test (in this process) must not pause publishing in this one."""
    from chegouhub.realtime import events

    events._publish_paused_until = 0.0
    events._publish_failures = 0
    yield
