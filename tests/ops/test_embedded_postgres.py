"""DATABASE_URL (CONTRACT section 1): PostgreSQL only; unset, the embedded PostgreSQL.

Each command here runs as a user runs it: `python manage.py ...` in a subprocess, with the
environment as given, the embedded server's data in the test's directory instead of `.pgdata/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live import ROOT

pytestmark = pytest.mark.live

PROBE = ("from django.db import connection; c = connection.cursor(); c.execute('SHOW server_version'); "
         "print('version', c.fetchone()[0]); print('port', connection.settings_dict['PORT']); {extra}")


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EMBEDDED_PG_DIR")}
    env.update(DJANGO_SECRET_KEY="test-only-secret-key", DJANGO_DEBUG="false", **extra)
    return env


def stopped(pgdata: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while (pgdata / "data" / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/db.sqlite3", "mysql://chegouhub:s3cr3t-pw@127.0.0.1:3306/chegouhub"])
def test_a_database_url_that_is_not_postgresql_is_refused_at_start(tmp_path, url):
    url = url.format(tmp=tmp_path)
    done = manage("check", env=base_env(DATABASE_URL=url))
    assert done.returncode != 0
    assert "DATABASE_URL must be a PostgreSQL URL" in done.stderr, done.stderr[-2000:]
    assert "s3cr3t-pw" not in done.stdout + done.stderr  # only the scheme is named
    assert list(tmp_path.iterdir()) == []  # no SQLite file was made


def test_without_database_url_commands_run_on_the_embedded_postgresql_which_keeps_the_data(tmp_path):
    pgdata = tmp_path / "pgdata"
    env = base_env(EMBEDDED_PG_DIR=str(pgdata))
    first = manage("shell", "-c", PROBE.format(extra="c.execute('CREATE TABLE kept (n int)'); "
                                                     "c.execute('INSERT INTO kept VALUES (42)')"), env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in first.stdout.splitlines() if line.startswith(("version", "port")))
    assert lines["version"].startswith("18.")  # the wheel's server, not the machine's
    assert int(lines["port"]) != 5432
    assert "embedded PostgreSQL on 127.0.0.1:" in first.stderr
    assert stopped(pgdata)  # stopped once the command ended
    read = "c.execute('SELECT n FROM kept'); print('kept', c.fetchone()[0])"
    second = manage("shell", "-c", PROBE.format(extra=read), env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "kept 42" in second.stdout  # the data lives on in its directory
    assert stopped(pgdata)


def test_the_embedded_postgresql_is_stopped_when_the_command_is_killed(tmp_path):
    pgdata = tmp_path / "pgdata"
    proc = subprocess.Popen([sys.executable, "-m", "chegouhub.common.embedded_pg", "--", "sleep", "60"], cwd=ROOT,
                            env=base_env(EMBEDDED_PG_DIR=str(pgdata)), stderr=subprocess.PIPE, text=True)
    try:
        assert "embedded PostgreSQL on 127.0.0.1:" in proc.stderr.readline()
        assert (pgdata / "data" / "postmaster.pid").exists()
    finally:
        proc.kill()
        proc.wait()
    assert stopped(pgdata)
