"""A real HTTP server on a local socket that records what it receives (Slack/Discord stand-in)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """POSTs are recorded per path; `script[path]` is a list of (status, headers, body, delay) answered
    in order (the last one repeats); default 200 "ok"."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict, bytes, float]]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                                              "json": _json(raw)})
                    steps = receiver.script.get(self.path) or [(200, {}, b"ok", 0.0)]
                    status, headers, body, delay = steps.pop(0) if len(steps) > 1 else steps[0]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on(self, path: str, *steps: tuple) -> None:
        """steps made with `answer(...)`."""
        self.script[path] = list(steps)

    def received(self, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.received(path)


def answer(status: int, body: bytes = b"", headers: dict | None = None, delay: float = 0.0) -> tuple:
    return (status, headers or {}, body, delay)


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None
