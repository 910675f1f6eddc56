"""Run the fake Shopify: from `python manage.py fake_shopify`, `python -m chegouhub.devtools.fake_shopify`,
or from tests and the benchmark through `FakeShopifyServer` (a subprocess on a free port)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .app import FakeShopifyApp
from .state import DEFAULT_BUCKET_SIZE, DEFAULT_RESTORE_RATE, THROTTLE_MODES, FakeShopify

ROOT = Path(__file__).resolve().parents[3]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--shop", action="append", default=[], metavar="DOMAIN=TOKEN",
                        help="register a shop and its access token (repeatable)")
    parser.add_argument("--state", help="JSON file: {\"shops\": [{\"shop\", \"token\", ...}]}")
    parser.add_argument("--bucket-size", type=float, default=DEFAULT_BUCKET_SIZE,
                        help="leaky bucket size in cost points (Shopify's maximumAvailable)")
    parser.add_argument("--restore-rate", type=float, default=DEFAULT_RESTORE_RATE,
                        help="points restored per second (Shopify's restoreRate)")
    parser.add_argument("--throttle-mode", choices=THROTTLE_MODES, default="graphql",
                        help="how a throttled request is answered: 200 + THROTTLED, HTTP 429, or alternating")
    parser.add_argument("--https-only", action="store_true", help="refuse http:// subscription addresses, as Shopify")


def build_fake(options: dict, extra_shops: list[dict] | None = None) -> FakeShopify:
    fake = FakeShopify(bucket_size=options["bucket_size"], restore_rate=options["restore_rate"],
                       throttle_mode=options["throttle_mode"], allow_http=not options.get("https_only"))
    specs: list[dict] = []
    if options.get("state"):
        specs += json.loads(Path(options["state"]).read_text()).get("shops", [])
    for item in options.get("shop") or []:
        domain, _, token = item.partition("=")
        if not token:
            raise SystemExit(f"--shop expects DOMAIN=TOKEN, got {item!r}")
        specs.append({"shop": domain, "token": token})
    specs += extra_shops or []
    for spec in specs:
        fake.add_shop(spec["shop"], spec["token"], name=spec.get("name", ""), bucket_size=spec.get("bucket_size"),
                      restore_rate=spec.get("restore_rate"), throttle_mode=spec.get("throttle_mode"),
                      subscriptions=spec.get("subscriptions"), available=spec.get("available"))
    return fake


def serve(fake: FakeShopify, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(FakeShopifyApp(fake), host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", timeout_keep_alive=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fake_shopify", description="A fake Shopify GraphQL Admin API")
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    fake = build_fake(options)
    print(f"fake Shopify on http://{options['host']}:{options['port']} with {len(fake.shops)} shop(s); "
          f"SHOPIFY_ADMIN_URL_TEMPLATE=http://{options['host']}:{options['port']}/{{shop}}/admin/api/{{version}}/graphql.json",
          flush=True)
    serve(fake, host=options["host"], port=options["port"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeShopifyServer:
    """The fake as a real server process, plus a small client for its control endpoints."""

    def __init__(self, *, bucket_size: float = DEFAULT_BUCKET_SIZE, restore_rate: float = DEFAULT_RESTORE_RATE,
                 throttle_mode: str = "graphql", port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url_template = f"{self.url}/{{shop}}/admin/api/{{version}}/graphql.json"
        self.authorize_url_template = f"{self.url}/{{shop}}/admin/oauth/authorize"
        self.token_url_template = f"{self.url}/{{shop}}/admin/oauth/access_token"
        self.args = ["--port", str(self.port), "--bucket-size", str(bucket_size), "--restore-rate",
                     str(restore_rate), "--throttle-mode", throttle_mode]
        self.log_path = log_path or ROOT / "artifacts" / f"fake-shopify-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self, timeout: float = 20.0) -> FakeShopifyServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "chegouhub.devtools.fake_shopify", *self.args], cwd=ROOT,
                                     env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake Shopify exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if self.http.get("/_fake/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("fake Shopify did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_out", None):
            self._out.close()
        self.http.close()

    def __enter__(self) -> FakeShopifyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # control client

    def _ok(self, response: httpx.Response) -> dict:
        response.raise_for_status()
        return response.json()

    def add_shops(self, specs: list[dict]) -> dict:
        return self._ok(self.http.post("/_fake/shops", json={"shops": specs}))

    def add_shop(self, shop: str, token: str, **kwargs) -> dict:
        return self.add_shops([{"shop": shop, "token": token, **kwargs}])

    def shop(self, shop: str) -> dict:
        return self._ok(self.http.get(f"/_fake/shops/{shop}"))

    def all_shops(self) -> dict[str, dict]:
        """Every shop's state (subscriptions, bucket, stats) in one call, by domain."""
        return self._ok(self.http.get("/_fake/state"))["shops"]

    def subscriptions(self, shop: str) -> list[dict]:
        return self.shop(shop)["subscriptions"]

    def add_subscription(self, shop: str, topic: str, uri: str) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/subscriptions", json={"topic": topic, "uri": uri}))

    def fail(self, shop: str, kind: str, **kwargs) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/failures", json={"kind": kind, **kwargs}))

    def set_bucket(self, shop: str, available: float, throttle_mode: str | None = None) -> dict:
        data = {"available": available}
        if throttle_mode:
            data["throttle_mode"] = throttle_mode
        return self._ok(self.http.post(f"/_fake/shops/{shop}/bucket", json=data))

    def set_all_buckets(self, available: float) -> dict:
        return self._ok(self.http.post("/_fake/bucket", json={"available": available}))

    def stats(self) -> dict:
        return self._ok(self.http.get("/_fake/stats"))

    def add_products(self, shop: str, products: list[dict]) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/catalog", json={"products": products}))

    def generate_catalog(self, shop: str, variants: int, **kwargs) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/catalog",
                                       json={"generate": {"variants": variants, **kwargs}}))

    def catalog(self, shop: str) -> dict:
        return self._ok(self.http.get(f"/_fake/shops/{shop}/catalog"))

    def sell(self, shop: str, lines: list[tuple[int, int]], **kwargs) -> httpx.Response:
        """A sale in the store; the response as it is (201 with the order, 409 when out of stock)."""
        return self.http.post(f"/_fake/shops/{shop}/sales", json={
            "lines": [{"variant_id": v, "quantity": q} for v, q in lines], **kwargs})

    def set_level(self, shop: str, inventory_item_id: int, available: int, location_id: int | None = None) -> dict:
        data = {"inventory_item_id": inventory_item_id, "available": available}
        if location_id is not None:
            data["location_id"] = location_id
        return self._ok(self.http.post(f"/_fake/shops/{shop}/levels", json=data))

    def counters(self, shop: str) -> dict:
        return self._ok(self.http.get(f"/_fake/shops/{shop}/stats"))

    def revoke(self, shop: str, after_requests: int = 0) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/revoke", json={"after_requests": after_requests}))

    def add_app(self, client_id: str, client_secret: str, **lifetimes) -> dict:
        """`token_lifetime`, `refresh_token_lifetime`: seconds (default an hour and 90 days);
        `refresh_delay`: seconds each refresh answer takes."""
        return self._ok(self.http.post("/_fake/apps", json={"client_id": client_id, "client_secret": client_secret,
                                                            **lifetimes}))

    def uninstall(self, shop: str) -> dict:
        return self._ok(self.http.post(f"/_fake/shops/{shop}/uninstall"))

    def reset(self) -> dict:
        return self._ok(self.http.post("/_fake/reset"))
