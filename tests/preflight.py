"""Before the suite: are PostgreSQL, Redis and the browser there? Under CI a missing one fails."""

from __future__ import annotations

import os
import shutil
import socket
import sys

SERVICES = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379)}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    in_ci = os.environ.get("CI", "").lower() == "true"
    missing = [name for name, addr in SERVICES.items() if not reachable(*addr)]
    if not shutil.which("chromium"):
        missing.append("chromium (apt-get install chromium)")
    if missing:
        print(f"preflight: missing {', '.join(missing)}", file=sys.stderr)
        return 1 if in_ci else 0
    print("preflight: PostgreSQL, Redis and chromium are available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
