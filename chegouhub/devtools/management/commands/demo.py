"""`make run`: migrate, seed the demo user, start the fake Shopify, the server, the catalog import
worker, connect the demo loja through the Shopify app install flow, and run a simulated store.

Everything runs on this machine with nothing installed beyond the virtualenv: the embedded
PostgreSQL that manage.py starts (or DATABASE_URL), the in-memory channel layer (or REDIS_URL), the
fake Shopify on its own port (with the demo shop's products and the demo app), and a simulated
store selling the shop's own variants at a gentle rate, with some cancellations, refunds, duplicate
deliveries and unmapped SKUs. The loja is connected as a merchant would: log in,
`/shopify/instalar/`, "Instalar app" on the fake's authorize page, the callback; the worker then
configures its webhooks and imports its catalog. Ctrl-C stops all of it; running it again reuses
the data (the install runs again and the import creates nothing new).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command, get_commands
from django.db import connection

from chegouhub.devtools.demo_data import (
    DEMO_CLIENT_ID,
    DEMO_PASSWORD,
    DEMO_SECRET,
    DEMO_SHOP,
    DEMO_USERNAME,
    apply_demo_minimums,
    fake_shop_products,
    seed_demo,
)
from chegouhub.push.vapid import generate_keys

ROOT = Path(settings.BASE_DIR)
# The demo's own VAPID keys (when none are set), kept so browsers subscribed in one run still
# receive notifications in the next: new keys would void every subscription.
DEMO_VAPID_FILE = Path(os.environ.get("DEMO_VAPID_FILE") or ROOT / ".demo-vapid.json")


def demo_vapid_keys() -> dict[str, str]:
    """VAPID settings for the demo's processes: the environment's, else the demo's own file's."""
    if os.environ.get("VAPID_PRIVATE_KEY"):
        return {}
    try:
        keys = json.loads(DEMO_VAPID_FILE.read_text())
        if not (keys.get("VAPID_PRIVATE_KEY") and keys.get("VAPID_PUBLIC_KEY")):
            raise ValueError("incomplete")
    except (OSError, ValueError):
        private, public = generate_keys()
        keys = {"VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public}
        DEMO_VAPID_FILE.touch(mode=0o600)
        DEMO_VAPID_FILE.write_text(json.dumps(keys))
    return keys


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandError(f"{name} exited during startup (code {proc.returncode}); see the output above.")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CommandError(f"{name} did not answer {url} within {timeout:.0f}s.")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    essential: bool = True


@dataclass
class Supervisor:
    """The demo's processes and threads; stops them in reverse order of start."""

    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self, name: str, cmd: list[str], *, env: dict[str, str], essential: bool = True) -> subprocess.Popen:
        # Own session: Ctrl-C reaches only this command, which then stops the children in order.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        self.children.append(Child(name, proc, essential))
        return proc

    def died(self) -> Child | None:
        return next((c for c in self.children if c.essential and c.proc.poll() is not None), None)

    def stop_all(self) -> None:
        """Threads first (they feed the server), then every process at once: SIGINT, SIGTERM, SIGKILL."""
        self.stopping.set()
        for sig, grace in ((signal.SIGINT, 8.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            running = [c.proc for c in reversed(self.children) if c.proc.poll() is None]
            if not running:
                return
            for proc in running:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            for proc in running:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass


class SimulatedStore:
    """The demo loja's customers: small batches of the fake Shopify's simulator, back to back.

    Each batch (chegouhub.devtools.simulator) plans a few orders over the catalogue's SKUs, with
    unmapped SKUs and lines without SKU, cancellations, restocking refunds and duplicate
    deliveries, records them in the fake Shopify and delivers them, signed, to the addresses
    subscribed there, paced at `rate` deliveries per second. Small batches keep memory flat for a
    demo that runs for hours, and let Ctrl-C stop it between two deliveries.
    """

    BATCH_ORDERS = 5

    def __init__(self, *, loja, rate: float, stop: threading.Event, fake_url: str | None, target: str,
                 currency: str = "BRL", unit_price: str = "49.90", deliver_to_target: bool = False):
        self.deliver_to_target = deliver_to_target
        self.loja = loja
        self.rate = rate
        self.stop = stop
        self.fake_url = fake_url
        self.target = target
        self.currency, self.unit_price = currency, unit_price

    def run(self) -> None:
        from chegouhub.devtools.simulator import SimulationConfig, simulate

        # Order ids from the clock: a second run never replays the first run's orders.
        next_order = 7_000_000_000_000 + int(time.time() * 10) * 1000
        while not self.stop.is_set():
            config = SimulationConfig(orders=self.BATCH_ORDERS, rate=self.rate, duplicates=0.1, reorder=0.05,
                                      reorder_window=3, concurrency=2, order_id_start=next_order,
                                      currency=self.currency, unit_price=self.unit_price)
            next_order += self.BATCH_ORDERS
            try:
                if self.fake_url and not self.deliver_to_target:
                    simulate(loja=self.loja, config=config, fake_url=self.fake_url)
                else:  # straight to the server; the orders recorded in the fake when it has the shop
                    simulate(loja=self.loja, config=config, target=self.target, fake_url=self.fake_url)
            except Exception:  # the server or the fake is restarting or stopping: try again shortly
                self.stop.wait(5)
            finally:
                # Back to the process's pool (DB_POOL_SIZE) between batches: this thread would
                # otherwise hold a connection for its whole life, and the demo runs several.
                connection.close()


class Restocker:
    """The demo loja's stock room: puts stock back on produtos that ran out, so the demo can run for
    hours with alerts opening and resolving. Goes through the public API (token auth), so the
    server publishes each change live.
    """

    def __init__(self, *, server_url: str, token: str, loja_id: int, stop: threading.Event, every: float = 15.0):
        self.base = server_url
        self.headers = {"Authorization": f"Token {token}"}
        self.loja_id = loja_id
        self.stop = stop
        self.every = every

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as client:
            while not self.stop.wait(self.every):
                try:
                    r = client.get("/api/estoque/produtos/", params={"loja_id": self.loja_id, "page_size": 500})
                    produtos = r.json().get("results", []) if r.status_code == 200 else []
                    for p in produtos:
                        if p["estoque_atual"] <= 0 and not self.stop.is_set():
                            quantidade = max(p["estoque_minimo"], 2) * 4 - p["estoque_atual"]
                            client.post(f"/api/estoque/produtos/{p['id']}/movimentacoes/",
                                        json={"quantidade": quantidade, "motivo": "Reposição automática da demo"})
                except (httpx.HTTPError, ValueError, KeyError):
                    continue


class Command(BaseCommand):
    help = "Run the local demo: the server, the fake Shopify and a simulated store sending orders."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--shopify-port", type=int, default=9999,
                            help="port of the fake Shopify (a free one is picked if it is taken)")
        parser.add_argument("--rate", type=float, default=0.5,
                            help="simulated webhook deliveries per second (default 0.5)")
        parser.add_argument("--no-simulator", action="store_true", help="do not send simulated orders")

    def handle(self, *args, port: int, host: str, shopify_port: int, rate: float, no_simulator: bool, **options):
        call_command("migrate", verbosity=0)
        seed_demo()
        if not port_is_free(host, port):
            raise CommandError(f"Port {port} is in use. Stop what uses it or choose another: make run PORT=8001")
        if not port_is_free("127.0.0.1", shopify_port):
            shopify_port = free_port()
        # Listening on every interface still means "open it here" for the URL we print and call.
        site = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
        shopify_url = f"http://127.0.0.1:{shopify_port}"

        sup = Supervisor()
        # Explicit handlers: a shell that started us in the background may have left SIGINT ignored.
        previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        previous_int = signal.signal(signal.SIGINT, _raise_interrupt)
        try:
            self._run(sup, host=host, port=port, site=site, shopify_port=shopify_port,
                      shopify_url=shopify_url, rate=rate, simulate=not no_simulator)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abandon the children
            sup.stop_all()
            signal.signal(signal.SIGTERM, previous_term)
            signal.signal(signal.SIGINT, previous_int)
        self.stdout.write("Demo stopped. Run `make run` again to continue with the same data.")

    def _run(self, sup: Supervisor, *, host, port, site, shopify_port, shopify_url, rate, simulate) -> None:
        py = sys.executable
        commands = get_commands()
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1", **demo_vapid_keys()}

        # 1. The fake Shopify (GraphQL Admin API, OAuth) with the demo app and the demo shop's products.
        fake_cmd = ([py, "manage.py", "fake_shopify"] if "fake_shopify" in commands
                    else [py, "-m", "chegouhub.devtools.fake_shopify"])
        fake = sup.start("fake Shopify", fake_cmd + ["--host", "127.0.0.1", "--port", str(shopify_port)], env=base_env)
        wait_until_up(f"{shopify_url}/_fake/health", fake, "the fake Shopify")
        _prepare_fake_shop(shopify_url)

        # 2. The server and the catalog import worker, speaking to the fake instead of the real Shopify.
        server_env = {
            **base_env,
            "SHOPIFY_ADMIN_URL_TEMPLATE": f"{shopify_url}/{{shop}}/admin/api/{{version}}/graphql.json",
            "SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE": f"{shopify_url}/{{shop}}/admin/oauth/authorize",
            "SHOPIFY_OAUTH_TOKEN_TEMPLATE": f"{shopify_url}/{{shop}}/admin/oauth/access_token",
            "SHOPIFY_API_KEY": DEMO_CLIENT_ID,
            "SHOPIFY_API_SECRET": DEMO_SECRET,
            "WEBHOOK_BASE_DOMAIN": os.environ.get("WEBHOOK_BASE_DOMAIN") or site,
            # One process per channel layer here: the server reads what push_stock and the workers
            # record every second (realtime/relay.py), so their events are live on the dashboard.
            "WS_LOG_RELAY_SECONDS": os.environ.get("WS_LOG_RELAY_SECONDS") or ("0" if base_env.get("REDIS_URL") else "1"),
        }
        server = sup.start("server", [py, "-m", "uvicorn", "config.asgi:application", "--host", host,
                                      "--port", str(port), "--ws-per-message-deflate", "false", "--no-access-log",
                                      "--lifespan", "off", "--log-level", "warning"],
                           env=server_env)
        wait_until_up(f"{site}/healthz", server, "the server")
        sup.start("import worker", [py, "manage.py", "import_catalog", "--worker", "--interval", "1"], env=server_env)

        # 2b. The Web Push worker: new events -> notifications of the browsers that turned them on.
        sup.start("push worker", [py, "manage.py", "send_push"], env=server_env, essential=False)

        # 3. The demo loja connected through the install flow; its catalog imported by the worker.
        loja = self._connect_demo_loja(site, shopify_url, sup)
        apply_demo_minimums(loja)
        loja.refresh_from_db()
        configured = loja.webhook_status == "configurado"
        if not configured:
            self.stdout.write(self.style.WARNING(f"Webhooks not configured on the fake Shopify ({loja.webhook_status})."))
        token = _demo_token()

        # 4. The simulated store: deliveries go where the fake Shopify's subscriptions point.
        if simulate:
            store = SimulatedStore(loja=loja, rate=rate, stop=sup.stopping, target=site,
                                   fake_url=shopify_url if configured else None)
            threading.Thread(target=store.run, name="demo-store", daemon=True).start()
        restocker = Restocker(server_url=site, token=token, loja_id=loja.pk, stop=sup.stopping)
        threading.Thread(target=restocker.run, name="demo-restocker", daemon=True).start()
        self._start_dollar_store(site, rate, sup, simulate, token)
        self._start_outlet_store(loja, site, shopify_url, rate, sup, simulate, server_env)
        self._start_privacy_demo(sup, loja=loja, site=site, env=server_env, simulate=simulate)

        self._banner(site, shopify_url, simulate, rate)
        # From here this thread only supervises: its connection back to the pool (DB_POOL_SIZE) for
        # the simulated stores' and the privacy moment's threads.
        connection.close()
        while True:
            dead = sup.died()
            if dead is not None:
                raise CommandError(f"The {dead.name} stopped unexpectedly (exit code {dead.proc.returncode}).")
            time.sleep(0.5)

    def _start_dollar_store(self, site: str, rate: float, sup: Supervisor, simulate: bool, token: str) -> None:
        """A second loja selling in USD (webhooks straight to the server), so sales show two currencies."""
        from django.contrib.auth import get_user_model

        from chegouhub.devtools.demo_data import seed_demo_usd_loja

        # The demo user as it is (seed_demo would set its password again: a password change closes
        # its sessions and revokes its tokens).
        usd = seed_demo_usd_loja(get_user_model().objects.get(username=DEMO_USERNAME))
        if simulate:
            store = SimulatedStore(loja=usd, rate=max(rate / 4, 0.5), stop=sup.stopping, target=site, fake_url=None,
                                   currency="USD", unit_price="12.50")
            threading.Thread(target=store.run, name="demo-store-usd", daemon=True).start()
        restocker = Restocker(server_url=site, token=token, loja_id=usd.pk, stop=sup.stopping)
        threading.Thread(target=restocker.run, name="demo-restocker-usd", daemon=True).start()

    def _start_outlet_store(self, main, site: str, shopify_url: str, rate: float, sup: Supervisor, simulate: bool,
                            env: dict) -> None:
        """A second store on the demo loja's depósito, both syncing: `push_stock` tells each Shopify
        store what is left after a sale in the other (the app's page "Depósitos")."""
        from chegouhub.catalog import services as catalog
        from chegouhub.devtools.demo_data import (DEMO_SHOP_OUTLET, DEMO_TOKEN_OUTLET, fake_shop_products,
                                                  seed_demo_outlet_loja)

        with httpx.Client(base_url=shopify_url, timeout=10) as fake:
            fake.post("/_fake/shops", json={"shop": DEMO_SHOP_OUTLET, "token": DEMO_TOKEN_OUTLET,
                                            "name": "Loja Demo Outlet"}).raise_for_status()
            fake.post(f"/_fake/shops/{DEMO_SHOP_OUTLET}/catalog",
                      json={"products": fake_shop_products()}).raise_for_status()
        outlet = seed_demo_outlet_loja(main)
        catalog.queue_import(loja=outlet)  # the import worker links its SKUs to the depósito's produtos
        sup.start("stock pusher", [sys.executable, "manage.py", "push_stock"], env=env)
        if simulate:
            # Its sales recorded in the fake (taking its `available`, as Shopify's do), delivered
            # straight to the server (the outlet is a custom app: no subscriptions in the fake).
            store = SimulatedStore(loja=outlet, rate=max(rate / 2, 0.25), stop=sup.stopping, target=site,
                                   fake_url=shopify_url, deliver_to_target=True)
            threading.Thread(target=store.run, name="demo-store-outlet", daemon=True).start()

    def _connect_demo_loja(self, site: str, shopify_url: str, sup: Supervisor):
        """What a merchant does in a browser, over HTTP: log in, connect the shop, approve the app;
        then wait for the worker to import the catalog."""
        from chegouhub.stores.models import Loja

        with httpx.Client(base_url=site, timeout=30) as browser:
            r = browser.post("/api/auth/login/", json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
            r.raise_for_status()
            r = browser.get("/shopify/instalar/", params={"shop": DEMO_SHOP})
            if r.status_code != 302:
                raise CommandError(f"The install flow did not start ({r.status_code}): {r.text[:300]}")
            authorize = httpx.URL(r.headers["location"])
            if httpx.get(str(authorize), timeout=10).status_code != 200:
                raise CommandError("The fake Shopify's authorize page did not answer.")
            form = {k: authorize.params[k] for k in ("client_id", "scope", "redirect_uri", "state")}
            confirm = httpx.post(f"{shopify_url}/{DEMO_SHOP}/admin/oauth/authorize/confirm", data=form, timeout=10)
            r = browser.get(confirm.headers["location"])
            if r.status_code != 302:
                raise CommandError(f"The install callback refused ({r.status_code}): {r.text[:500]}")
            loja = Loja.objects.get(shop_domain=DEMO_SHOP)
            self.stdout.write("Demo loja connected through the install flow; importing its catalog…")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                dead = sup.died()
                if dead is not None:
                    raise CommandError(f"The {dead.name} stopped unexpectedly (exit code {dead.proc.returncode}).")
                latest = browser.get("/api/importacoes/", params={"loja_id": loja.pk}).json()["results"][0]
                if latest["status"] in ("concluida", "falhou"):
                    outcome = "finished" if latest["status"] == "concluida" else "failed"
                    self.stdout.write(f"Catalog import {outcome}: {latest['criados']} created, "
                                      f"{latest['vinculados']} linked, {latest['sem_sku']} without SKU.")
                    break
                time.sleep(0.5)
            else:
                self.stdout.write(self.style.WARNING("The catalog import is still running; it goes on in the background."))
        loja.refresh_from_db()
        return loja
    def _start_privacy_demo(self, sup: Supervisor, *, loja, site: str, env: dict, simulate: bool) -> None:
        """The webhook worker (retries, privacy requests, body retention) and, with the simulated
        store, a customers/data_request then a customers/redact for the sample customer after
        30 s (DEMO_PRIVACY_AFTER_SECONDS): the dashboard's privacy section shows them done
        (docs/privacy.md)."""
        from chegouhub.devtools.compliance import demo_redaction

        after = float(os.environ.get("DEMO_PRIVACY_AFTER_SECONDS") or 30)

        sup.start("webhook worker", [sys.executable, "manage.py", "process_webhooks", "--interval", "1"], env=env)
        if simulate:
            threading.Thread(target=demo_redaction, kwargs={"loja": loja, "target": site, "stop": sup.stopping,
                                                                 "after_seconds": after},
                             name="demo-privacy", daemon=True).start()


    def _banner(self, site: str, shopify_url: str, simulate: bool, rate: float) -> None:
        line = "─" * 64
        self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"  ChegouHub is running:  {site}/"))
        self.stdout.write(f"  Log in with            {DEMO_USERNAME} / {DEMO_PASSWORD}")
        self.stdout.write(f"  Fake Shopify           {shopify_url}  (shop {DEMO_SHOP})")
        if simulate:
            self.stdout.write(f"  Simulated store        ~{rate:g} webhooks/s: orders, cancellations, refunds,")
            self.stdout.write("                         duplicate deliveries and unmapped SKUs")
        # One language (English, as the rest of the console); the app's own words are quoted as its pages show them.
        self.stdout.write('  Push notifications     in the app: page "Notificações", button "Ativar notificações"')
        self.stdout.write("  Tokens                 Loja Demo: expiring (install flow, renewed every 10 min);")
        self.stdout.write("                         Loja Demo Outlet: a custom app's pasted token (never expires)")
        self.stdout.write("  Shared stock           Loja Demo and Loja Demo Outlet sell from one stock; push_stock")
        self.stdout.write('                         tells both Shopify stores what is left (page "Depósitos")')
        self.stdout.write("  Another port           make run PORT=8001")
        self.stdout.write(f"  API docs               {site}/api/docs/   ·   admin: {site}/admin/")
        self.stdout.write("  Ctrl-C stops everything; the data stays for the next run.")
        self.stdout.write(line)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


DEMO_TOKEN_LIFETIME_SECONDS = 900  # with the default 5-minute margin: renewed every 10 minutes


def _demo_token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username=DEMO_USERNAME)
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def _prepare_fake_shop(shopify_url: str) -> None:
    """The demo app and the demo shop (without a token: the install flow gets one) with its products."""
    with httpx.Client(base_url=shopify_url, timeout=10) as fake:
        # Expiring offline tokens, as Shopify's for public apps (docs/tokens.md), but living
        # DEMO_TOKEN_LIFETIME_SECONDS instead of an hour: the renewal shows within a demo session.
        fake.post("/_fake/apps", json={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_SECRET,
                                       "token_lifetime": DEMO_TOKEN_LIFETIME_SECONDS}).raise_for_status()
        fake.post("/_fake/shops", json={"shop": DEMO_SHOP, "token": "", "name": "Loja Demo ChegouHub"}).raise_for_status()
        fake.post(f"/_fake/shops/{DEMO_SHOP}/catalog", json={"products": fake_shop_products()}).raise_for_status()
