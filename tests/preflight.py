"""Before the suite: are PostgreSQL (DATABASE_URL's, the embedded one under `make test`), Redis and
the browser there? Under CI a missing one fails."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from urllib.parse import urlsplit


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def main() -> int:
    in_ci = os.environ.get("CI", "").lower() == "true"
    missing = []
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        missing.append("PostgreSQL (DATABASE_URL is not set: `make test` starts the embedded one)")
    elif not postgres_answers(database_url):
        missing.append(f"PostgreSQL at {urlsplit(database_url).hostname}:{urlsplit(database_url).port or 5432}")
    redis = urlsplit(os.environ.get("REDIS_TEST_URL") or "redis://127.0.0.1:6379/0")
    if not reachable(redis.hostname or "127.0.0.1", redis.port or 6379):
        missing.append("Redis")
    if not shutil.which("chromium"):
        missing.append("chromium (apt-get install chromium)")
    if missing:
        print(f"preflight: missing {', '.join(missing)}", file=sys.stderr)
        return 1 if in_ci else 0
    print("preflight: PostgreSQL, Redis and chromium are available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
