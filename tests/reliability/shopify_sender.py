"""Deliver webhooks the way Shopify does: each one retried, same webhook id, until it gets a 200."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from chegouhub.devtools.payloads import encode, order_payload, signed_headers


def paid_webhooks(loja, order_ids, sku: str, qty: int = 1) -> list[tuple[bytes, dict]]:
    out = []
    for order_id in order_ids:
        body = encode(order_payload(order_id, [(1, sku, qty)]))
        out.append((body, signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain,
                                         topic="orders/paid")))
    return out


class ShopifySender:
    """Sends every webhook until it is answered 200, backing off on 5xx and network errors
    (Shopify's schedule, compressed from hours to seconds). `outcomes` counts every answer."""

    def __init__(self, base_url, *, concurrency: int = 6, first_backoff: float = 0.1, max_backoff: float = 1.0,
                 deadline_seconds: float = 90.0, timeout: float = 10.0):
        self.base_url = base_url  # a str, or a callable returning the current one
        self.concurrency = concurrency
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.deadline_seconds = deadline_seconds
        self.timeout = timeout
        self.outcomes: Counter = Counter()
        self.acked = 0
        self.failed: list[bytes] = []
        self._lock = threading.Lock()

    def _url(self) -> str:
        base = self.base_url() if callable(self.base_url) else self.base_url
        return f"{base}/api/estoque/webhook/shopify/"

    def _deliver(self, body: bytes, headers: dict, deadline: float) -> None:
        backoff = self.first_backoff
        while time.monotonic() < deadline:
            try:
                r = httpx.post(self._url(), content=body, headers=headers, timeout=self.timeout)
                outcome = r.status_code
                if r.status_code == 200:
                    outcome = f"200 {r.json().get('status')}"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
                r = None
            with self._lock:
                self.outcomes[outcome] += 1
                if r is not None and r.status_code == 200:
                    self.acked += 1
                    return
            time.sleep(backoff)
            backoff = min(self.max_backoff, backoff * 2)
        with self._lock:
            self.failed.append(body)

    def send_all(self, webhooks: list[tuple[bytes, dict]]) -> None:
        deadline = time.monotonic() + self.deadline_seconds
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(lambda w: self._deliver(w[0], w[1], deadline), webhooks))

    def start(self, webhooks: list[tuple[bytes, dict]]) -> threading.Thread:
        thread = threading.Thread(target=self.send_all, args=(webhooks,), daemon=True)
        thread.start()
        return thread

    def wait_acked(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.acked >= n, f"only {self.acked} webhooks acknowledged: {dict(self.outcomes)}"
