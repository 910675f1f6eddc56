"""The flash-sale benchmark (issue 6).

    python -m bench.flash_sale            # full run, at most 10 minutes
    python -m bench.flash_sale --quick    # at most 60 s: proves the harness works (`make test`)
    python -m bench.flash_sale --only uvicorn-fanout-w2,floor-uvicorn-w2 --sockets 2000

Everything is local: PostgreSQL on 127.0.0.1:5432 (database `chegouhub_bench`, created and migrated
here), Redis on 127.0.0.1:6379 (database 9, channel prefix `bench`), server processes on free
loopback ports. Per configuration: a fresh server, K WebSocket clients per loja (raw sockets,
bench/wsclients.py), a closed-loop load of pre-signed unique `orders/paid` deliveries at a fixed
concurrency (bench/loadgen.py); then the stock, the event log and the sockets' arrivals are checked.
Then the socket test: N sockets held on one loja, resident memory per socket, one event to all.
Writes bench/results/latest.json and bench/results/latest.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "chegouhub_bench")
BENCH_DB_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
LAYERS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "fanout": "chegouhub.realtime.layers.FanoutPubSubChannelLayer",
}
INITIAL_STOCK = 1_000_000
N_SKUS = 100

TARGETS = {
    "webhooks_per_s": 700,
    "ack_p99_ms": 50,
    "fraction_of_floor": 0.6,
    "sockets": 10_000,
    "rss_per_socket_kb": 30,
    "broadcast_p99_ms": 1000,
}


@dataclass
class Config:
    name: str
    server: str  # uvicorn | daphne | granian
    layer: str | None  # redis | pubsub | fanout | None (floor)
    workers: int = 2
    floor: bool = False
    ws: str = ""  # uvicorn's WebSocket implementation (--ws), default: uvicorn's own choice
    clients: bool = True  # WebSocket clients during the load (off: like for like with the floor)
    rate: float | None = None  # open loop at this many webhooks/s (bench/loadgen.py); None: closed loop


@dataclass
class LoadResult:
    name: str
    server: str
    layer: str | None
    workers: int
    floor: bool
    concurrency: int
    offered_rate: float | None = None  # open loop: the fixed rate offered; None: closed loop
    duration_s: float = 0.0
    requests: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict = field(default_factory=dict)
    webhooks_per_s: float = 0.0
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p99_ms: float | None = None
    events_expected: int | None = None
    events_delivered: int | None = None
    delivery_ratio: float | None = None
    sales_expected: int | None = None
    sales_delivered: int | None = None
    stock_exact: bool | None = None
    movements_exact: bool | None = None
    movement_chain_unbroken: bool | None = None
    ws_clients: int = 0
    server_cpu_ms_per_webhook: float | None = None
    db_cpu_ms_per_webhook: float | None = None  # every PostgreSQL process on the machine
    fraction_of_floor: float | None = None
    notes: list = field(default_factory=list)


@dataclass
class SocketResult:
    name: str
    server: str
    layer: str
    workers: int
    sockets_wanted: int
    sockets_open: int = 0
    connect_s: float = 0.0
    connect_per_s: float | None = None
    rss_base_mb: float = 0.0
    rss_held_mb: float = 0.0
    rss_per_socket_kb: float | None = None
    delivered: int = 0
    # Closed by the server with 4503 (the layer overflowed): CONTRACT section 5 tells such a client to
    # reconnect and resume from the event log, so the event is late, not lost. Counted apart (a
    # socket may have got the event live before it was closed).
    told_to_resume: int = 0
    broadcast_ack_ms: float | None = None
    broadcast_p50_ms: float | None = None
    broadcast_p99_ms: float | None = None
    broadcast_max_ms: float | None = None
    notes: list = field(default_factory=list)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- services -----------------------------------------------------------------------------------


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def ensure_services(*, redis: bool = True) -> None:
    """PostgreSQL (and Redis, unless told not to) on loopback; started from Debian's packages if
    they are installed but down."""
    ports = (5432, 6379) if redis else (5432,)
    if not _reachable(5432) and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    if redis and not _reachable(6379) and shutil.which("redis-server"):
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                        "--save", "", "--appendonly", "no"], check=False)
    for _ in range(30):
        if all(_reachable(port) for port in ports):
            return
        time.sleep(1)
    raise SystemExit("bench: PostgreSQL (127.0.0.1:5432)" + (" and Redis (127.0.0.1:6379) are" if redis else " is")
                     + " needed")


def setup_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ.update(DATABASE_URL=BENCH_DB_URL, DJANGO_SECRET_KEY=SECRET_KEY, DJANGO_DEBUG="false",
                      DJANGO_SETTINGS_MODULE="config.settings", LOG_DIR=str(ROOT / "artifacts" / "bench-logs"))
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@dataclass
class Fixture:
    user_id: int
    session_key: str
    lojas: list[dict]  # {"id", "shop", "secret"}
    broadcast: dict
    skus: list[str]


def seed(n_lojas: int) -> Fixture:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from chegouhub.inventory.models import Produto
    from chegouhub.stores.models import Loja

    User = get_user_model()
    user, created = User.objects.get_or_create(username="bench")
    if created:
        user.set_password("bench-password-123")
        user.save()
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.set_expiry(24 * 3600)
    session.create()
    skus = [f"FS-{i:03d}" for i in range(N_SKUS)]
    lojas = []
    for i in range(n_lojas + 1):
        shop = f"bench-{i}.myshopify.com" if i < n_lojas else "bench-broadcast.myshopify.com"
        secret = f"shpss_bench_secret_{i:04d}"
        secret = f"shpss_bench_secret_{shop.split('.')[0]}"
        loja, _ = Loja.objects.get_or_create(
            shop_domain=shop, defaults={"owner": user, "nome": f"Bench {i}", "webhook_secret": secret,
                                        "access_token": "shpat_bench", "ativo": True})
        if loja.webhook_secret != secret or not loja.ativo or loja.owner_id != user.pk:
            loja.webhook_secret, loja.ativo, loja.owner = secret, True, user
            loja.save()
        have = set(Produto.objects.filter(loja=loja).values_list("sku", flat=True))
        Produto.objects.bulk_create([
            Produto(loja=loja, deposito_id=loja.deposito_id, sku=s, nome=f"Produto {s}", estoque_atual=INITIAL_STOCK,
                    estoque_minimo=0)
            for s in skus if s not in have
        ])
        lojas.append({"id": loja.pk, "shop": shop, "secret": secret})
    return Fixture(user.pk, session.session_key, lojas[:-1], lojas[-1], skus)


def reset_state(fx: Fixture) -> None:
    """Empty the inbox, ledger, movements, alerts and event log; every product back to the initial stock."""
    from django.db import connection

    import redis

    with connection.cursor() as cur:
        cur.execute("TRUNCATE shopify_webhookdelivery, shopify_webhookrejection, shopify_orderledger, "
                    "inventory_movimentacao, inventory_alerta, realtime_event RESTART IDENTITY")
        cur.execute("UPDATE inventory_produto SET estoque_atual = %s WHERE loja_id = ANY(%s)",
                    [INITIAL_STOCK, [l["id"] for l in fx.lojas] + [fx.broadcast["id"]]])
        # As autovacuum would in production (it is off on this machine's PostgreSQL): each configuration
        # starts from analyzed tables without the dead rows of the one before.
        cur.execute("VACUUM ANALYZE stores_loja, inventory_produto, inventory_mapeamento")
    redis.Redis.from_url(REDIS_URL).flushdb()


# --- servers ------------------------------------------------------------------------------------


class Server:
    def __init__(self, cfg: Config, fx: Fixture, log_dir: Path):
        self.cfg = cfg
        self.port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.sock: socket.socket | None = None
        self.log_path = log_dir / f"server-{cfg.name}.log"
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=BENCH_DB_URL, DJANGO_SECRET_KEY=SECRET_KEY, DJANGO_DEBUG="false",
            LOG_DIR=str(log_dir / "app-logs"), PYTHONUNBUFFERED="1", REDIS_URL=REDIS_URL,
            CHANNEL_LAYER_PREFIX="bench", WS_IDLE_TIMEOUT_SECONDS="3600",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        if cfg.layer:
            self.env["CHANNEL_LAYER_BACKEND"] = LAYERS[cfg.layer]
        if cfg.floor:
            self.env.update(
                FLOOR_DATABASE_URL=BENCH_DB_URL, FLOOR_REDIS_URL=REDIS_URL,
                FLOOR_SHOPS=json.dumps({l["shop"]: [l["id"], l["secret"]] for l in fx.lojas + [fx.broadcast]}),
            )
        (log_dir / "app-logs").mkdir(parents=True, exist_ok=True)

    @property
    def app(self) -> str:
        return "bench.floor_app:app" if self.cfg.floor else "config.asgi:application"

    def start(self, timeout: float = 60.0) -> "Server":
        out = open(self.log_path, "ab")
        cfg = self.cfg
        common = dict(cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if cfg.server == "uvicorn":
            cmd = [PY, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(cfg.workers), "--no-access-log", "--ws-per-message-deflate", "false",
                   "--log-level", "warning", "--backlog", "4096", "--loop", "uvloop", "--http", "httptools",
                   "--lifespan", "off" if not cfg.floor else "on"]
            if cfg.ws:
                cmd += ["--ws", cfg.ws]
            self.procs.append(subprocess.Popen(cmd, **common))
        elif cfg.server == "granian":
            cmd = [PY, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(cfg.workers), "--loop", "uvloop", "--log-level", "warning", "--no-access-log",
                   "--backlog", "4096", "--no-respawn-failed-workers", self.app]
            self.procs.append(subprocess.Popen(cmd, **common))
        elif cfg.server == "daphne":
            # daphne has no --workers: N processes accept on one inherited listening socket.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port))
            self.sock.listen(4096)
            fd = self.sock.fileno()
            for _ in range(cfg.workers):
                cmd = [PY, "-m", "daphne", "--fd", str(fd), "-v", "0", self.app]
                self.procs.append(subprocess.Popen(cmd, pass_fds=(fd,), **common))
        else:
            raise ValueError(cfg.server)
        deadline = time.monotonic() + timeout
        import httpx

        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{cfg.name}: server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    # every worker answers before the clock starts (imports, first connections)
                    for _ in range(cfg.workers * 4):
                        httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{cfg.name}: server did not start in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def pids(self) -> list[int]:
        groups = {p.pid for p in self.procs}
        return [pid for pid, _, fields in proc_stats() if int(fields[2]) in groups]  # pgrp

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes so far (a figure that noise on the machine barely moves)."""
        groups = {p.pid for p in self.procs}
        return sum(stat_cpu_seconds(fields) for _, _, fields in proc_stats() if int(fields[2]) in groups)

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
        if self.sock:
            self.sock.close()


# --- clients ------------------------------------------------------------------------------------


class WSProcess:
    def __init__(self, spec: dict, workdir: Path, tag: str):
        self.spec_path = workdir / f"ws-{tag}.json"
        self.out_path = workdir / f"ws-{tag}-out.json"
        self.spec_path.write_text(json.dumps(spec))
        self.proc = subprocess.Popen([PY, "-m", "bench.wsclients", str(self.spec_path)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready: dict = {}

    def wait_ready(self, timeout: float) -> dict:
        import select

        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise RuntimeError("WebSocket clients did not connect in time")
        self.ready = json.loads(self.proc.stdout.readline() or "{}")
        return self.ready

    def collect(self, expect: dict[int, int], deadline: float, grace: float = 0.5) -> dict:
        self.proc.stdin.write(json.dumps({"expect": expect, "deadline": deadline, "grace": grace,
                                          "out": str(self.out_path)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("WebSocket client process died")
        return json.loads(self.out_path.read_text())

    def quit(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def proc_stats():
    """(pid, command name, the fields after it) of every process, from /proc/<pid>/stat."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        yield int(entry), stat[stat.find("(") + 1:stat.rfind(")")], stat[stat.rfind(")") + 2:].split()


def stat_cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def postgres_cpu_seconds() -> float:
    """User + system CPU of every `postgres` process so far (the bench is the only load on it)."""
    return sum(stat_cpu_seconds(fields) for _, name, fields in proc_stats() if name == "postgres")


def run_load(cfg: Config, fx: Fixture, templates: dict, *, concurrency: int, duration: float, ws_per_loja: int,
             workdir: Path, first_order_id: int, keep: dict | None = None) -> LoadResult:
    from django.db import connection

    res = LoadResult(cfg.name, cfg.server, cfg.layer, cfg.workers, cfg.floor, concurrency, offered_rate=cfg.rate)
    reset_state(fx)
    server = Server(cfg, fx, workdir).start()
    ws = None
    keep_server = False
    try:
        if not cfg.floor and ws_per_loja and cfg.clients:
            ws = WSProcess({"ports": [server.port], "connect_concurrency": 50,
                            "clients": [{"loja_id": l["id"], "session_key": fx.session_key, "count": ws_per_loja}
                                        for l in fx.lojas]}, workdir, cfg.name)
            ready = ws.wait_ready(60)
            res.ws_clients = ready.get("connected", 0)
            if ready.get("connected") != ready.get("wanted"):
                res.notes.append(f"websocket clients: {ready}")
        spec = {"ports": [server.port], "shops": [[l["shop"], l["secret"]] for l in fx.lojas], "skus": fx.skus,
                "templates": templates, "concurrency": concurrency, "duration": duration,
                "max_requests": int(duration * 3000) + 500, "first_order_id": first_order_id, "seed": first_order_id,
                "rate": cfg.rate}
        spec_path = workdir / f"load-{cfg.name}.json"
        out_path = workdir / f"load-{cfg.name}-out.json"
        spec_path.write_text(json.dumps(spec))
        cpu_before, db_before = server.cpu_seconds(), postgres_cpu_seconds()
        subprocess.run([PY, "-m", "bench.loadgen", str(spec_path), str(out_path)], cwd=ROOT, check=True,
                       timeout=duration + 120)
        cpu_used = server.cpu_seconds() - cpu_before
        db_used = postgres_cpu_seconds() - db_before
        load = json.loads(out_path.read_text())
        reqs = load["requests"]
        res.requests = len(reqs)
        res.ok = sum(1 for r in reqs if r["status"] == 200)
        res.errors = res.requests - res.ok
        res.statuses = load["statuses"]
        if res.ok:
            res.server_cpu_ms_per_webhook = round(cpu_used * 1000 / res.ok, 2)
            res.db_cpu_ms_per_webhook = round(db_used * 1000 / res.ok, 2)
        if load["errors"]:
            res.notes.append(f"load errors: {load['errors'][:3]}")
        bad = [r["body"] for r in reqs if r["status"] != 200][:3]
        if bad:
            res.notes.append(f"non-200 answers: {bad}")
        # sustained: acks per second in the steady window (the first 10% is warm-up)
        span = load["t_end"] - load["t0"]
        t_from = load["t0"] + 0.1 * span
        steady = [r for r in reqs if r["status"] == 200 and r["t_ack"] >= t_from]
        res.duration_s = round(span, 2)
        res.webhooks_per_s = round(len(steady) / max(load["t_end"] - t_from, 1e-9), 1)
        acks = [r["t_ack"] - r["t_send"] for r in steady]
        res.ack_p50_ms, res.ack_p99_ms = ms(pct(acks, 50)), ms(pct(acks, 99))

        ok = [r for r in reqs if r["status"] == 200]
        expected_stock: dict[tuple[int, str], int] = {}
        lines_total = 0
        for r in ok:
            lid = fx.lojas[r["loja"]]["id"]
            for sku, q in r["lines"]:
                expected_stock[(lid, sku)] = expected_stock.get((lid, sku), 0) + q
                lines_total += 1
        with connection.cursor() as cur:
            cur.execute("SELECT loja_id, sku, estoque_atual FROM inventory_produto WHERE loja_id = ANY(%s)",
                        [[l["id"] for l in fx.lojas]])
            rows = cur.fetchall()
            res.stock_exact = all(stock == INITIAL_STOCK - expected_stock.get((lid, sku), 0) for lid, sku, stock in rows)
            cur.execute("SELECT count(*) FROM inventory_movimentacao WHERE origem = 'shopify_pedido_pago'")
            res.movements_exact = cur.fetchone()[0] == lines_total
            # each product's movements tile [final, initial] with no gap and no overlap (no lost update)
            cur.execute("SELECT count(*) FROM (SELECT estoque_anterior, estoque_atual, quantidade, lag(estoque_atual) "
                        "OVER (PARTITION BY produto_id ORDER BY estoque_anterior DESC) AS prev FROM "
                        "inventory_movimentacao WHERE origem = 'shopify_pedido_pago') m WHERE "
                        "estoque_atual <> estoque_anterior + quantidade OR (prev IS NOT NULL AND prev <> estoque_anterior)")
            res.movement_chain_unbroken = cur.fetchone()[0] == 0
            cur.execute("SELECT loja_id, count(*) FROM realtime_event WHERE stream = 'estoque' GROUP BY loja_id")
            log_counts = dict(cur.fetchall())
        if ws is not None:
            per_loja_orders: dict[int, int] = {}
            for r in ok:
                lid = fx.lojas[r["loja"]]["id"]
                per_loja_orders[lid] = per_loja_orders.get(lid, 0) + 1
            got = ws.collect({lid: n for lid, n in per_loja_orders.items()}, deadline=30)
            res.events_expected = sum(log_counts.get(l["id"], 0) * ws_per_loja for l in fx.lojas)
            res.events_delivered = sum(v["events"] for v in got["per_loja"].values())
            res.sales_expected = len(ok) * ws_per_loja
            res.sales_delivered = sum(v["sales"] for v in got["per_loja"].values())
            res.delivery_ratio = round(res.events_delivered / res.events_expected, 4) if res.events_expected else None
            sent_at = {r["order_id"]: r["t_send"] for r in steady}  # the same window as the acks
            e2e = [got["orders"][str(oid)][2] - t for oid, t in sent_at.items()
                   if str(oid) in got["orders"] and got["orders"][str(oid)][0] >= ws_per_loja]
            res.e2e_p50_ms, res.e2e_p99_ms = ms(pct(e2e, 50)), ms(pct(e2e, 99))
            if got["close_codes"]:
                res.notes.append(f"sockets closed: {got['close_codes']}")
            if got["errors"]:
                res.notes.append(f"websocket errors: {got['errors'][:3]}")
        if keep is not None:  # the quick run goes on to the socket test on this same server
            keep[cfg.name] = server
            keep_server = True
    finally:
        if ws is not None:
            ws.quit()
        if not keep_server:
            server.stop()
    return res


def run_sockets(cfg: Config, fx: Fixture, templates: dict, *, sockets: int, workdir: Path,
                order_id: int, server: Server | None = None, connect_budget: float = 150.0) -> SocketResult:
    from bench.orders import OrderFactory

    res = SocketResult(cfg.name, cfg.server, cfg.layer or "", cfg.workers, sockets)
    if server is None:
        reset_state(fx)
        server = Server(cfg, fx, workdir).start()
    procs: list[WSProcess] = []
    try:
        warm = min(100, sockets // 10) or 1
        spec = {"ports": [server.port], "connect_concurrency": 64,
                "clients": [{"loja_id": fx.broadcast["id"], "session_key": fx.session_key, "count": warm}],
                "keep_arrivals": True}
        procs.append(WSProcess(spec, workdir, f"{cfg.name}-warm"))
        procs[0].wait_ready(120)
        time.sleep(1.0)
        res.rss_base_mb = round(server.rss_mb(), 1)
        t0 = time.monotonic()
        rest = sockets - warm
        # several client processes: one Python process per few thousand sockets keeps the client side fast
        per_proc = 5000
        for i in range(0, rest, per_proc):
            n = min(per_proc, rest - i)
            spec = dict(spec, clients=[{"loja_id": fx.broadcast["id"], "session_key": fx.session_key, "count": n}],
                        connect_concurrency=32, connect_budget=connect_budget)
            procs.append(WSProcess(spec, workdir, f"{cfg.name}-{i}"))
        opened = 0
        for p in procs:
            ready = p.wait_ready(connect_budget + 60) if not p.ready else p.ready
            opened += ready.get("connected", 0)
            if ready.get("errors"):
                res.notes.append(f"connect errors: {ready['errors'][:2]}")
            if ready.get("retries"):
                res.notes.append(f"handshakes retried after a reset: {ready['retries']}")
        res.connect_s = round(time.monotonic() - t0, 1)
        if res.connect_s:
            res.connect_per_s = round((opened - warm) / res.connect_s, 1)
        res.sockets_open = opened
        time.sleep(3.0)  # let the server finish any handshake still in flight
        res.rss_held_mb = round(server.rss_mb(), 1)
        if opened > warm:
            res.rss_per_socket_kb = round((res.rss_held_mb - res.rss_base_mb) * 1024 / (opened - warm), 1)
        # one webhook, one event for everyone
        factory = OrderFactory(host=f"127.0.0.1:{server.port}", shops=[(fx.broadcast["shop"], fx.broadcast["secret"])],
                               skus=fx.skus, templates=templates, first_order_id=order_id)
        order = factory.make(0, lines=1)  # one sale of one SKU: its two events, in one batch
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            t_send = time.monotonic()
            s.sendall(order.request)
            answer = s.recv(4096)
            res.broadcast_ack_ms = ms(time.monotonic() - t_send)
        if b" 200 " not in answer.split(b"\r\n", 1)[0] + b" ":
            res.notes.append(f"broadcast webhook answered {answer[:60]!r}")
        arrivals: list[float] = []
        for p in procs:
            got = p.collect({fx.broadcast["id"]: 1}, deadline=30, grace=0.2)
            arrivals += got["arrivals"].get(str(order.order_id), [])
            if got["close_codes"]:
                res.notes.append(f"sockets closed: {got['close_codes']}")
                res.told_to_resume += got["close_codes"].get("4503", 0)
        res.delivered = len(arrivals)
        lat = [a - t_send for a in arrivals]
        res.broadcast_p50_ms, res.broadcast_p99_ms = ms(pct(lat, 50)), ms(pct(lat, 99))
        res.broadcast_max_ms = ms(max(lat)) if lat else None
    finally:
        for p in procs:
            p.quit()
        server.stop()
    return res


# --- the run ------------------------------------------------------------------------------------


def plan(quick: bool) -> tuple[list[Config], list[Config]]:
    if quick:
        load = [Config("floor-uvicorn-w2", "uvicorn", None, 2, floor=True),
                Config("uvicorn-fanout-w2", "uvicorn", "fanout", 2)]  # the last is kept for the socket test
        socks = [Config("uvicorn-fanout-w2", "uvicorn", "fanout", 2)]
        return load, socks
    load = [
        Config("floor-uvicorn-w2", "uvicorn", None, 2, floor=True),
        Config("uvicorn-fanout-w2", "uvicorn", "fanout", 2),
        Config("uvicorn-fanout-w2-nosockets", "uvicorn", "fanout", 2, clients=False),
        Config("uvicorn-pubsub-w2", "uvicorn", "pubsub", 2),
        Config("uvicorn-redis-w2", "uvicorn", "redis", 2),
        Config("daphne-fanout-w2", "daphne", "fanout", 2),
        Config("daphne-redis-w2", "daphne", "redis", 2),
        Config("granian-fanout-w2", "granian", "fanout", 2),
        Config("granian-redis-w2", "granian", "redis", 2),
        Config("uvicorn-fanout-w1", "uvicorn", "fanout", 1),
        Config("uvicorn-fanout-w3", "uvicorn", "fanout", 3),
        # Open loop: a fixed 250 webhooks/s (about half of what the default sustains with
        # sockets), the acknowledgement latency a burst at that rate sees, beside the floor's.
        Config("floor-uvicorn-w2-rate250", "uvicorn", None, 2, floor=True, rate=250),
        Config("uvicorn-fanout-w2-rate250", "uvicorn", "fanout", 2, rate=250),
    ]
    # The default (uvicorn, the project's fan-out layer) first, then the stock layers and the other
    # servers while the run's 10 minutes allow.
    socks = [
        Config("uvicorn-fanout-w2", "uvicorn", "fanout", 2),
        Config("uvicorn-pubsub-w2", "uvicorn", "pubsub", 2),
        Config("uvicorn-redis-w2", "uvicorn", "redis", 2),
        Config("granian-fanout-w2", "granian", "fanout", 2),
        Config("daphne-fanout-w2", "daphne", "fanout", 2),
    ]
    return load, socks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small run (at most 60 s) that proves the harness")
    ap.add_argument("--only", default="", help="comma-separated configuration names")
    ap.add_argument("--duration", type=float, help="seconds of load per configuration")
    ap.add_argument("--concurrency", type=int, help="connections of the load generator")
    ap.add_argument("--ws-per-loja", type=int, help="WebSocket clients per loja during the load")
    ap.add_argument("--lojas", type=int, help="lojas receiving orders")
    ap.add_argument("--sockets", type=int, help="sockets held in the socket test")
    ap.add_argument("--no-sockets", action="store_true", help="skip the socket test")
    ap.add_argument("--out", default=str(RESULTS / "latest.json"))
    args = ap.parse_args(argv)
    started = time.monotonic()
    quick = args.quick
    duration = args.duration or (3.0 if quick else 12.0)
    concurrency = args.concurrency or (16 if quick else 32)
    ws_per_loja = args.ws_per_loja if args.ws_per_loja is not None else (3 if quick else 2)
    n_lojas = args.lojas or (2 if quick else 4)
    sockets = args.sockets or (200 if quick else 10_000)
    fd_limit = raise_fd_limit()
    ensure_services()
    setup_database()
    fx = seed(n_lojas)
    from bench.orders import templates as make_templates

    templates = make_templates()
    load_cfgs, sock_cfgs = plan(quick)
    if args.only:
        names = set(args.only.split(","))
        every = {c.name: c for c in plan(False)[0] + plan(True)[0] + plan(False)[1]}
        load_cfgs = [every[n] for n in names if n in every and n in {c.name for c in plan(False)[0] + plan(True)[0]}]
        sock_cfgs = [c for c in sock_cfgs if c.name in names]
    if args.no_sockets:
        sock_cfgs = []
    if sockets > fd_limit - 200:
        log(f"fd limit {fd_limit}: sockets capped")
        sockets = fd_limit - 200
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / "artifacts" if (ROOT / "artifacts").is_dir() else None))
    log(f"{'quick' if quick else 'full'} run: {len(load_cfgs)} load configurations x {duration:.0f} s at "
        f"concurrency {concurrency}, {ws_per_loja} sockets x {n_lojas} lojas; socket test {sockets} "
        f"on {len(sock_cfgs)}; work files in {workdir}")
    loads: list[LoadResult] = []
    order_base = int(time.time()) * 1000
    kept: dict[str, Server] = {}
    sock_names = {c.name for c in sock_cfgs}
    for i, cfg in enumerate(load_cfgs):
        try:
            r = run_load(cfg, fx, templates, concurrency=concurrency, duration=duration, ws_per_loja=ws_per_loja,
                         workdir=workdir, first_order_id=order_base + i * 1_000_000,
                         keep=kept if quick and cfg.name in sock_names else None)
        except Exception as exc:
            r = LoadResult(cfg.name, cfg.server, cfg.layer, cfg.workers, cfg.floor, concurrency,
                           notes=[f"failed: {type(exc).__name__}: {str(exc)[-500:]}"])
        loads.append(r)
        log(f"{r.name:20s} {r.webhooks_per_s:7.1f}/s cpu {r.server_cpu_ms_per_webhook} (db {r.db_cpu_ms_per_webhook}) ms/webhook ack p50 {r.ack_p50_ms} p99 {r.ack_p99_ms} ms  "
            f"e2e p50 {r.e2e_p50_ms} p99 {r.e2e_p99_ms} ms  delivered {r.events_delivered}/{r.events_expected}  "
            f"stock exact {r.stock_exact} chain {r.movement_chain_unbroken}  errors {r.errors} {'; '.join(r.notes)[:300]}")
    floors = {r.server: r.webhooks_per_s for r in loads if r.floor and r.webhooks_per_s and not r.offered_rate}
    best_floor = max(floors.values()) if floors else None
    for r in loads:
        if not r.floor and best_floor and not r.offered_rate:
            r.fraction_of_floor = round(r.webhooks_per_s / best_floor, 3)
    socks: list[SocketResult] = []
    budget_s = 60.0 if quick else 560.0  # the whole run's limit, less a margin for stopping and the report
    for i, cfg in enumerate(sock_cfgs):
        left = budget_s - (time.monotonic() - started)
        if socks and left < 120:
            log(f"sockets {cfg.name}: skipped, {left:.0f} s left of the run's budget")
            continue
        connect_budget = max(20.0, min(150.0, left - 60)) if not quick else 30.0
        try:
            s = run_sockets(cfg, fx, templates, sockets=sockets, workdir=workdir,
                            order_id=order_base + 900_000_000 + i, server=kept.pop(cfg.name, None),
                            connect_budget=connect_budget)
        except Exception as exc:
            s = SocketResult(cfg.name, cfg.server, cfg.layer or "", cfg.workers, sockets,
                             notes=[f"failed: {type(exc).__name__}: {str(exc)[-500:]}"])
        socks.append(s)
        log(f"sockets {s.name:20s} open {s.sockets_open}/{s.sockets_wanted} in {s.connect_s}s ({s.connect_per_s}/s)  "
            f"{s.rss_per_socket_kb} KB/socket  broadcast p50 {s.broadcast_p50_ms} p99 {s.broadcast_p99_ms} ms  "
            f"delivered {s.delivered}  {'; '.join(s.notes)[:300]}")
    for server in kept.values():
        server.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"duration_s": duration, "concurrency": concurrency, "ws_per_loja": ws_per_loja,
                     "lojas": n_lojas, "skus": N_SKUS, "sockets": sockets, "fd_limit": fd_limit},
        "targets": TARGETS,
        "floor_webhooks_per_s": best_floor,
        "load": [asdict(r) for r in loads],
        "sockets": [asdict(s) for s in socks],
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    # Every configuration that fed sockets (the floor and `-nosockets` feed none) delivered every event.
    report["all_delivered"] = all(r.delivery_ratio == 1.0 for r in loads
                                  if not r.floor and r.requests and r.events_expected is not None) and all(
        s.delivered + s.told_to_resume >= s.sockets_open for s in socks)
    report["all_sockets_open"] = all(s.sockets_open == s.sockets_wanted for s in socks)
    report["all_stock_exact"] = all(r.stock_exact and r.movements_exact and r.movement_chain_unbroken
                                    for r in loads if r.requests)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    try:
        from bench.plot import plot

        plot(report, out.with_suffix(".png"))
    except ImportError as exc:
        log(f"no plot ({exc}); install the bench extra: pip install -e '.[bench]'")
    log(f"done in {report['elapsed_s']} s: {out}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report["all_delivered"] and report["all_stock_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
