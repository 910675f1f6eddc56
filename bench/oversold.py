"""Units oversold on shared stock (issue 17, CONTRACT 10): push off and push on, side by side.

    python -m bench.oversold                 # 60 s of sales per mode, about 3 minutes in all
    python -m bench.oversold --quick         # 15 s per mode: proves the harness
    STOCK_PUSH_MIN_INTERVAL=0.5 python -m bench.oversold --min-interval 0.5

One depósito of 5 lojas sharing 200 SKUs with little stock (3-8 units each, the same for both
modes: `--seed`). Each loja is a shop in the fake Shopify (its own process; each shop's bucket
1,000 points restoring 50/s) selling those 200 SKUs at the same `available`, and its catalog is
imported (so its variants are linked to the depósito's produtos). A real ChegouHub server
(uvicorn, config.asgi) receives the signed orders/paid webhooks; with push on, a
`manage.py push_stock` process runs and every loja has `sincronizar_estoque` on.

Buyers: an open loop of `--rate` orders/s (50) in total for `--duration` s; the same sequence of
(store, SKU) in both modes. Each order asks the fake to sell one unit (POST /_fake/shops/{shop}/sales):
409 is a refused sale (the store showed 0); 201 is a sale, whose orders/paid payload is posted,
signed with the loja's webhook secret, to ChegouHub.

Reported per mode:
- oversold: per SKU, max(units sold - initial stock, 0); the units beyond the stock are the last
  sales of that SKU in the fake's own order (its order ids are one sequence across shops), and
  are attributed to the stores that made them. Cross-checked against the depósito's final stock
  (sum of max(-estoque_atual, 0)).
- push delay, two ways: (a) measured outside: from each sale's webhook answer (200, committed)
  to the first moment every other store of the fake shows at most the depósito's level after
  that sale (the fake's levels polled every `--poll` s); (b) `EnvioEstoque.atraso_ms` of the
  confirmations made during the run (from the oldest change a push covers to its confirmation
  being recorded). The target is judged on (a).
- Shopify Admin API calls, cost points and throttled answers (the fake's per-shop counters,
  from the start of the sales to the end of the drain), per unit sold; refused sales.

Local only: PostgreSQL on 127.0.0.1:5432 (database `chegouhub_bench_oversold`, dropped, created and
migrated here), servers on free loopback ports. No Redis: the server uses the in-memory channel
layer (no sockets are fed). Writes bench/results/oversold.json and bench/results/oversold.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench.flash_sale import ensure_services, free_port, pct

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_OVERSOLD_DB", "chegouhub_bench_oversold")
BENCH_DB_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
BUCKET = {"bucket_size": 1000, "restore_rate": 50}

TARGETS = {
    "oversold_on_vs_off_max": 0.01,  # push on oversells at most 1 % of what push off oversells
    "push_delay_p99_s": 2.0,
    "calls_per_sale_max": 0.1,  # at most 1 Admin API call per 10 sales
}


def log(msg: str) -> None:
    print(f"[oversold {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def setup_database(fake_admin_template: str, log_dir: Path) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ.update(DATABASE_URL=BENCH_DB_URL, DJANGO_SECRET_KEY=SECRET_KEY, DJANGO_DEBUG="false",
                      DJANGO_SETTINGS_MODULE="config.settings", LOG_DIR=str(log_dir / "app-logs"),
                      SHOPIFY_ADMIN_URL_TEMPLATE=fake_admin_template)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- processes ----------------------------------------------------------------------------------


class Proc:
    """A child process in its own session (stopped by its process group, never by name)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_path: Path):
        self.name, self.log_path = name, log_path
        self._out = open(log_path, "ab")
        self.p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def alive(self) -> bool:
        return self.p.poll() is None

    def cpu_seconds(self) -> float:
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[2]) == self.p.pid:  # process group
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self._out.close()

    def tail(self) -> str:
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""


# push_stock's settings the bench passes on: flag, env var, the project's default. Each flag
# defaults to its env var, else that default; the report's command names those that differ.
PUSH_SETTINGS = (("--min-interval", "STOCK_PUSH_MIN_INTERVAL", 1.0),
                 ("--urgent-interval", "STOCK_PUSH_URGENT_INTERVAL", 0.1),
                 ("--calls-per-change", "STOCK_PUSH_CALLS_PER_CHANGE", 0.07),
                 ("--rush-max-interval", "STOCK_PUSH_RUSH_MAX_INTERVAL", 1.6))


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def child_env(log_dir: Path, fake_admin_template: str, args) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=BENCH_DB_URL, DJANGO_SECRET_KEY=SECRET_KEY, DJANGO_DEBUG="false",
               LOG_DIR=str(log_dir / "app-logs"), PYTHONUNBUFFERED="1", ALLOWED_HOSTS="127.0.0.1,localhost",
               SHOPIFY_ADMIN_URL_TEMPLATE=fake_admin_template,
               **{var: str(getattr(args, _dest(flag))) for flag, var, _ in PUSH_SETTINGS},
               PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))
    env.pop("REDIS_URL", None)
    return env


def start_server(env: dict, log_dir: Path, workers: int) -> tuple[Proc, int]:
    import httpx

    port = free_port()
    cmd = [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning", "--loop", "uvloop",
           "--http", "httptools", "--lifespan", "off"]
    proc = Proc("server", cmd, env, log_dir / "server.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"server exited early:\n{proc.tail()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                for _ in range(workers * 4):
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"server did not start:\n{proc.tail()}")


# --- the scenario -------------------------------------------------------------------------------


def make_stock(n_skus: int, lo: int, hi: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"OV-{i:03d}": rng.randint(lo, hi) for i in range(n_skus)}


def make_orders(n: int, n_stores: int, skus: list[str], seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed + 1)
    return [(rng.randrange(n_stores), rng.choice(skus)) for _ in range(n)]


def seed_mode(mode: str, fake, user, stock: dict[str, int], n_lojas: int, sync: bool) -> list[dict]:
    """The mode's 5 lojas in one depósito, each a shop in the fake with the same catalog, imported."""
    from chegouhub.catalog import services as catalog
    from chegouhub.stocksync.depositos import move_loja
    from chegouhub.stores.models import Loja

    stamp = int(time.time())
    lojas = []
    for i in range(n_lojas):
        shop = f"ov-{mode}-{i}-{stamp}.myshopify.com"
        loja = Loja.objects.create(owner=user, nome=f"Oversold {mode} {i}", shop_domain=shop,
                                   webhook_secret=f"shpss_bench_oversold_{mode}_{i}",
                                   access_token=f"shpat_bench_oversold_{mode}_{i}", ativo=True)
        lojas.append(loja)
    fake.add_shops([{"shop": l.shop_domain, "token": l.access_token, **BUCKET} for l in lojas])
    products = [{"title": f"Produto {sku}", "variants": [{"sku": sku, "title": "Único", "available": q}]}
                for sku, q in stock.items()]
    for idx, loja in enumerate(lojas):
        fake.add_products(loja.shop_domain, products)
        if idx == 1:  # the first loja's import made the depósito's produtos: the others join it, then link
            for other in lojas[1:]:
                move_loja(loja=other, deposito=lojas[0].deposito)
                other.refresh_from_db()
        importacao, _ = catalog.queue_import(loja=loja)
        assert catalog.claim_import(importacao.pk)
        importacao.refresh_from_db()
        done = catalog.run_import(importacao)
        assert done.status == "concluida", (done.status, done.erros)
    out = []
    for loja in lojas:
        loja.refresh_from_db()
        assert loja.deposito_id == lojas[0].deposito_id
        if sync:
            loja.sincronizar_estoque, loja.estoque_reserva = True, 0
            loja.save()  # the signal queues every variant of the loja
        variants = {v["sku"]: v["id"] for v in fake.catalog(loja.shop_domain)["variants"]}
        out.append({"id": loja.pk, "shop": loja.shop_domain, "secret": loja.webhook_secret, "variants": variants,
                    "deposito_id": loja.deposito_id})
    return out


def pending_state(loja_ids: list[int]) -> tuple[int, int]:
    from django.db import connection

    from chegouhub.catalog.models import VarianteShopify
    from chegouhub.stocksync.models import PushPendente

    try:
        return (PushPendente.objects.filter(loja_id__in=loja_ids).count(),
                VarianteShopify.objects.filter(loja_id__in=loja_ids, shopify_confirmado=False).count())
    finally:
        connection.close()


class Pool:
    """Keep-alive HTTP/1.1 connections to one loopback port, on bench/loadgen.py's raw protocol
    (httpx costs the buyers' process more CPU than the sales it makes)."""

    def __init__(self, port: int):
        self.port, self.idle = port, []

    def _raw(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None
                      ) -> tuple[int, bytes]:
        from bench.loadgen import HttpConn

        raw = self._raw(method, path, body, headers)
        for attempt in range(2):  # once more on a fresh connection: the server's keep-alive timeout
            conn = None
            while self.idle and conn is None:
                conn = self.idle.pop()
                if conn.closed.done() or conn.transport.is_closing():
                    conn = None
            fresh = conn is None
            if fresh:
                _, conn = await asyncio.get_running_loop().create_connection(HttpConn, "127.0.0.1", self.port)
            try:
                status, data = await conn.request(raw)
            except (ConnectionError, OSError):
                conn.transport.close()
                if fresh or attempt:
                    raise
                continue
            self.idle.append(conn)
            return status, data
        raise ConnectionError("unreachable")

    def close(self) -> None:
        for conn in self.idle:
            conn.transport.close()


async def buyers(*, fake_url: str, server_port: int, lojas: list[dict], orders: list[tuple[int, str]],
                 rate: float, duration: float, poll: float | None, stock: dict[str, int],
                 drain_until, drain_max: float) -> dict:
    """The open-loop buyers and, when `poll`, the poller of every store's levels."""
    from chegouhub.devtools.payloads import signed_headers

    fake_port = int(fake_url.rsplit(":", 1)[1])
    fake_http, poll_http, app_http = Pool(fake_port), Pool(fake_port), Pool(server_port)
    json_h = {"Content-Type": "application/json"}
    results: list[dict] = []
    observations: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    stop_poll = asyncio.Event()
    errors: list[str] = []

    async def one(i: int, store: int, sku: str, t_sched: float):
        loja = lojas[store]
        r = {"i": i, "store": store, "sku": sku, "t_sched": t_sched}
        try:
            line = json.dumps({"lines": [{"variant_id": loja["variants"][sku], "quantity": 1}]}).encode()
            status, body = await fake_http.request("POST", f"/_fake/shops/{loja['shop']}/sales", line, json_h)
            r["t_sale"] = time.monotonic()
            r["sale_status"] = status
            if status == 201:
                r["order_id"] = json.loads(body)["id"]
                headers = signed_headers(body=body, secret=loja["secret"], shop_domain=loja["shop"],
                                         topic="orders/paid")
                status, answer = await app_http.request("POST", "/api/estoque/webhook/shopify/", body, headers)
                r["t_ack"] = time.monotonic()
                r["ack_status"] = status
                try:
                    r["ack"] = json.loads(answer).get("status")
                except ValueError:
                    r["ack"] = answer[:100].decode("utf-8", "replace")
                if status != 200:
                    errors.append(f"webhook {status}: {answer[:150]!r}")
        except (ConnectionError, OSError, ValueError, KeyError) as exc:
            r["error"] = f"{type(exc).__name__}: {exc}"[:200]
            errors.append(r["error"])
        results.append(r)

    async def poller():
        async def read(idx: int, loja: dict):
            try:
                _, body = await poll_http.request("GET", f"/_fake/shops/{loja['shop']}/catalog")
                t = time.monotonic()
                for v in json.loads(body)["variants"]:
                    seq = observations[(idx, v["sku"])]  # the changes only, each when first seen
                    if not seq or seq[-1][1] != v["available"]:
                        seq.append((t, v["available"]))
            except (ConnectionError, OSError, ValueError) as exc:
                errors.append(f"poll: {exc}"[:200])

        while not stop_poll.is_set():
            t0 = time.monotonic()
            await asyncio.gather(*(read(i, l) for i, l in enumerate(lojas)))
            await asyncio.sleep(max(0.0, poll - (time.monotonic() - t0)))

    samples: list[tuple[float, int]] = []  # (time, Admin API calls so far, all the mode's shops)

    async def sampler():
        while not stop_poll.is_set():
            t = time.monotonic()
            total = 0
            for loja in lojas:
                try:
                    _, body = await poll_http.request("GET", f"/_fake/shops/{loja['shop']}/stats")
                    total += json.loads(body).get("graphql_calls", 0)
                except (ConnectionError, OSError, ValueError):
                    total = None
                    break
            if total is not None:
                samples.append((t, total))
            await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - t)))

    poll_task = asyncio.create_task(poller()) if poll else None
    sample_task = asyncio.create_task(sampler())
    if poll:
        await asyncio.sleep(max(poll * 3, 0.3))  # a first view of every store before the clock starts
    n = min(len(orders), int(rate * duration))
    t0 = time.monotonic()
    tasks = []
    for i in range(n):
        t_sched = t0 + i / rate
        delay = t_sched - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        store, sku = orders[i]
        tasks.append(asyncio.create_task(one(i, store, sku, t_sched)))
    await asyncio.gather(*tasks)
    t_end = time.monotonic()
    drain_s = 0.0
    if drain_until is not None:  # the pushes the last sales caused, and the poller seeing them
        while time.monotonic() - t_end < drain_max:
            pending, _ = await asyncio.to_thread(drain_until)
            if not pending:
                break
            await asyncio.sleep(0.2)
        drain_s = time.monotonic() - t_end
        await asyncio.sleep(max(poll or 0, 0.2) * 3)
    stop_poll.set()
    if poll_task:
        await poll_task
    await sample_task
    for pool in (fake_http, poll_http, app_http):
        pool.close()
    return {"t0": t0, "t_end": t_end, "drain_s": drain_s, "results": results,
            "observations": {f"{k[0]}|{k[1]}": v for k, v in observations.items()}, "errors": errors,
            "call_samples": samples}


def delays_outside(load: dict, lojas: list[dict], stock: dict[str, int]) -> tuple[list[float], int]:
    """Per processed sale: seconds from its webhook answer until every other store showed at most
    the depósito's level after it; and how many sales were never seen propagated."""
    obs = {tuple([int(k.split("|")[0]), k.split("|")[1]]): v for k, v in load["observations"].items()}
    processed = sorted((r for r in load["results"] if r.get("ack_status") == 200), key=lambda r: r["t_ack"])
    sold_so_far: dict[str, int] = defaultdict(int)
    out, unresolved = [], 0
    t0 = processed[0]["t_ack"] if processed else 0.0
    for r in processed:
        sold_so_far[r["sku"]] += 1
        target = max(stock[r["sku"]] - sold_so_far[r["sku"]], 0)
        worst = 0.0
        for j in range(len(lojas)):
            if j == r["store"]:
                continue
            seq = obs.get((j, r["sku"]), [])
            before = [a for t, a in seq if t <= r["t_ack"]]
            if before and before[-1] <= target:
                continue  # that store already showed it (its own sales, an earlier push)
            seen = next((t for t, a in seq if t > r["t_ack"] and a <= target), None)
            if seen is None:
                worst = None
                break
            worst = max(worst, seen - r["t_ack"])
        if worst is None:
            unresolved += 1
        else:
            out.append((worst, round(r["t_ack"] - t0, 2), r["store"] + 1, r["sku"]))
    return out, unresolved


def run_mode(mode: str, *, fake, user, stock, orders, args, log_dir: Path, env: dict, server_port: int,
             server: Proc) -> dict:
    from django.db import connection

    from chegouhub.inventory.models import Produto
    from chegouhub.stocksync.models import EnvioEstoque

    sync = mode == "on"
    log(f"[{mode}] seeding {args.lojas} lojas x {len(stock)} SKUs ({sum(stock.values())} units in the depósito)")
    lojas = seed_mode(mode, fake, user, stock, args.lojas, sync)
    ids = [l["id"] for l in lojas]
    pusher = None
    if sync:
        cmd = [PY, "manage.py", "push_stock"]
        if args.profile_pusher:  # the same command, each step of its rounds timed (bench/pusher_profile.py)
            cmd = [PY, "-m", "bench.pusher_profile"]
            env = dict(env, PUSHER_PROFILE_OUT=str(log_dir / "pusher-profile.json"))
        pusher = Proc("push_stock", cmd, env, log_dir / "push_stock.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not pusher.alive():
                raise RuntimeError(f"push_stock exited:\n{pusher.tail()}")
            if pending_state(ids) == (0, 0):
                break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"the imported quantities were not confirmed in 90 s: {pending_state(ids)}")
        named = ", ".join(f"{var}={getattr(args, _dest(flag))}" for flag, var, _ in PUSH_SETTINGS)
        log(f"[{mode}] push_stock running ({named}); imported quantities confirmed")
    for l in lojas:
        fake.set_bucket(l["shop"], BUCKET["bucket_size"])  # both modes start with a full bucket
    before = {l["shop"]: fake.counters(l["shop"]) for l in lojas}
    t_wall0 = datetime.now(UTC)
    import resource

    def own_cpu():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    cpu0 = {"server": server.cpu_seconds(), "push_stock": pusher.cpu_seconds() if pusher else 0.0,
            "fake": fake_cpu(fake), "buyers": own_cpu()}
    log(f"[{mode}] buyers: {args.rate:.0f} orders/s for {args.duration:.0f} s")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    load = runner(buyers(
        fake_url=fake.url, server_port=server_port, lojas=lojas, orders=orders, rate=args.rate,
        duration=args.duration, poll=args.poll if sync else None, stock=stock,
        drain_until=(lambda: pending_state(ids)) if sync else None, drain_max=15.0))
    cpu = {"server": round(server.cpu_seconds() - cpu0["server"], 2),
           "push_stock": round(pusher.cpu_seconds() - cpu0["push_stock"], 2) if pusher else 0.0,
           "fake": round(fake_cpu(fake) - cpu0["fake"], 2), "buyers": round(own_cpu() - cpu0["buyers"], 2)}
    after = {l["shop"]: fake.counters(l["shop"]) for l in lojas}
    if pusher:
        pusher.stop()
        if args.profile_pusher and (log_dir / "pusher-profile.json").exists():
            res_profile = json.loads((log_dir / "pusher-profile.json").read_text())
            log(f"[{mode}] pusher profile: {json.dumps(res_profile)}")
    res = summarize(mode, lojas, stock, load, before, after)
    res["cpu_s"] = cpu
    res["drain_s"] = round(load["drain_s"], 2)
    # The depósito's final stock: what ChegouHub's ledger says was oversold.
    final = dict(Produto.objects.filter(deposito_id=lojas[0]["deposito_id"]).values_list("sku", "estoque_atual"))
    res["ledger_oversold"] = sum(max(-q, 0) for q in final.values())
    res["ledger_sold"] = sum(stock[s] - q for s, q in final.items())
    # What every store shows at the end, beside what it should (max(estoque, 0)): with push on, each
    # variant should have been brought to it by the end of the drain.
    wrong, above = 0, 0
    for l in lojas:
        for v in fake.catalog(l["shop"])["variants"]:
            want = max(final[v["sku"]], 0)
            if v["available"] != want:
                wrong += 1
                above += max(v["available"] - want, 0)
    res["final_levels_wrong"], res["final_units_shown_beyond_stock"] = wrong, above
    if sync:
        atrasos = list(EnvioEstoque.objects.filter(loja_id__in=ids, created_at__gte=t_wall0)
                       .values_list("atraso_ms", flat=True))
        res["envios"] = len(atrasos)
        res["atraso_ms"] = {"p50": pct(atrasos, 50), "p99": pct(atrasos, 99), "max": max(atrasos, default=None)}
        res["atraso_ms_all"] = sorted(atrasos)
        timed, unresolved = delays_outside(load, lojas, stock)
        delays = [d for d, *_ in timed]
        # The slowest sales, with when (seconds after the first answer), where and what: a delay
        # is read against the push_stock log of that moment.
        res["delay_s_slowest"] = [[round(d, 3), t, store, sku] for d, t, store, sku in sorted(timed, reverse=True)[:20]]
        res["delay_s"] = {"p50": _r(pct(delays, 50)), "p99": _r(pct(delays, 99)), "max": _r(max(delays, default=None)),
                          "sales_measured": len(delays), "never_seen": unresolved}
        res["delay_s_all"] = [round(d, 4) for d in sorted(delays)]
    connection.close()
    return res


def fake_cpu(fake) -> float:
    try:
        fields = Path(f"/proc/{fake.proc.pid}/stat").read_text()
        fields = fields[fields.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _r(v):
    return None if v is None else round(v, 3)


def summarize(mode: str, lojas: list[dict], stock: dict[str, int], load: dict, before: dict, after: dict) -> dict:
    results = load["results"]
    sales = [r for r in results if r.get("sale_status") == 201]
    refused = [r for r in results if r.get("sale_status") == 409]
    per_sku: dict[str, list[dict]] = defaultdict(list)
    for r in sales:
        per_sku[r["sku"]].append(r)
    over_store = [0] * len(lojas)
    sold_store = [0] * len(lojas)
    for r in sales:
        sold_store[r["store"]] += 1
    for sku, rs in per_sku.items():
        rs.sort(key=lambda r: r["order_id"])  # the fake's own order: one sequence across its shops
        for r in rs[stock[sku]:]:
            over_store[r["store"]] += 1
    counters = {}
    for key in ("graphql_calls", "cost_spent", "throttled", "http429", "set_quantities_calls", "quantities_set",
                "stale", "idempotent_replays"):
        counters[key] = sum(after[s].get(key, 0) - before[s].get(key, 0) for s in after)
    n_sold = len(sales)
    # Under load: from the first order until the first second in which fewer than 90 % of the
    # orders offered sold (the stock running out: from then on each of the few sales still needs
    # its own push to every other store, which no coalescing can share).
    t0 = load["t0"]
    per_second: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        per_second[int(r["t_sched"] - t0)][0] += 1
        per_second[int(r["t_sched"] - t0)][1] += r.get("sale_status") == 201
    full = 0
    while per_second.get(full) and per_second[full][1] >= 0.9 * per_second[full][0]:
        full += 1
    window = {"seconds": full, "sold": sum(1 for r in sales if r["t_sched"] - t0 < full)}
    calls_at = [(t - t0, c) for t, c in load.get("call_samples", [])]
    if full and calls_at:
        start = max((c for t, c in calls_at if t <= 0), default=calls_at[0][1])
        # the calls made by the end of the window, and the pushes those sales still caused (1 s later)
        end = max((c for t, c in calls_at if t <= full + 1.0), default=calls_at[-1][1])
        window["calls"] = end - start
        window["calls_per_sale"] = round(window["calls"] / window["sold"], 4) if window["sold"] else None
    acks = [r["t_ack"] - r["t_sale"] for r in sales if "t_ack" in r]
    bad_acks = [r for r in sales if r.get("ack_status") != 200 or r.get("ack") != "processed"]
    last_sale = max((r["t_sale"] - load["t0"] for r in sales), default=0.0)
    return {
        "mode": mode,
        "orders": len(results),
        "offered_s": round(load["t_end"] - load["t0"], 2),
        "sold": n_sold,
        "refused": len(refused),
        "errors": len([r for r in results if "error" in r]) + len(bad_acks),
        "error_samples": (load["errors"] + [str(r.get("ack")) for r in bad_acks])[:5],
        "last_sale_s": round(last_sale, 2),
        "initial_units": sum(stock.values()),
        "oversold": sum(over_store),
        "oversold_per_store": over_store,
        "sold_per_store": sold_store,
        "skus_oversold": sum(1 for sku, rs in per_sku.items() if len(rs) > stock[sku]),
        "webhook_ack_ms": {"p50": _r(pct(acks, 50) * 1000) if acks else None,
                           "p99": _r(pct(acks, 99) * 1000) if acks else None},
        "shopify": counters,
        "calls_per_sale": round(counters["graphql_calls"] / n_sold, 4) if n_sold else None,
        "under_load": window,
        "cost_per_sale": round(counters["cost_spent"] / n_sold, 3) if n_sold else None,
        "throttled": counters["throttled"] + counters["http429"],
    }


# --- report -------------------------------------------------------------------------------------


def verdicts(off: dict, on: dict) -> dict:
    ratio = (on["oversold"] / off["oversold"]) if off["oversold"] else (0.0 if not on["oversold"] else None)
    p99 = on.get("delay_s", {}).get("p99")
    return {
        "oversold_on_vs_off": {"value": None if ratio is None else round(ratio, 4),
                               "target": f"<= {TARGETS['oversold_on_vs_off_max']:.0%}",
                               "pass": ratio is not None and ratio <= TARGETS["oversold_on_vs_off_max"]},
        "push_delay_p99_s": {"value": p99, "target": f"<= {TARGETS['push_delay_p99_s']} s",
                             "pass": p99 is not None and p99 <= TARGETS["push_delay_p99_s"]
                             and not on["delay_s"]["never_seen"]},
        # "under load": while the orders still sell at the offered rate (summarize); the whole run's
        # figure, with the stock's last units each sold alone, is reported beside it.
        "calls_per_sale_under_load": {
            "value": on["under_load"].get("calls_per_sale"), "target": f"<= {TARGETS['calls_per_sale_max']}",
            "pass": on["under_load"].get("calls_per_sale") is not None
            and on["under_load"]["calls_per_sale"] <= TARGETS["calls_per_sale_max"]},
    }


def table(report: dict) -> str:
    off, on = report["modes"]["off"], report["modes"]["on"]
    n = len(off["oversold_per_store"])

    def row(label, f):
        return f"| {label} | {f(off)} | {f(on)} |"

    d = lambda m, k: "–" if "delay_s" not in m else f"{m['delay_s'][k]:.2f} s"  # noqa: E731
    a = lambda m, k: "–" if "atraso_ms" not in m else f"{m['atraso_ms'][k]:,} ms"  # noqa: E731
    lines = ["| | push off | push on |", "| --- | ---: | ---: |",
             row("orders offered", lambda m: f"{m['orders']:,} in {m['offered_s']:.0f} s"),
             row("units sold (depósito had " + f"{off['initial_units']:,})", lambda m: f"{m['sold']:,}"),
             row("refused sales (store showed 0)", lambda m: f"{m['refused']:,}"),
             row("**units oversold, total**", lambda m: f"**{m['oversold']:,}**"),
             *[row(f"oversold, store {i + 1}", lambda m, i=i: f"{m['oversold_per_store'][i]:,}") for i in range(n)],
             row("SKUs oversold (of " + f"{report['settings']['skus']})", lambda m: f"{m['skus_oversold']:,}"),
             row("oversold per the depósito's final stock", lambda m: f"{m['ledger_oversold']:,}"),
             row("push delay p50 / p99 / max (sale's webhook answer → every other store shows it)",
                 lambda m: "–" if "delay_s" not in m else f"{d(m, 'p50')} / {d(m, 'p99')} / {d(m, 'max')}"),
             row("EnvioEstoque.atraso_ms p50 / p99 / max",
                 lambda m: "–" if "atraso_ms" not in m else f"{a(m, 'p50')} / {a(m, 'p99')} / {a(m, 'max')}"),
             row("Admin API calls, whole run (per unit sold)", lambda m: f"{m['shopify']['graphql_calls']:,} "
                 f"({m['calls_per_sale'] if m['calls_per_sale'] is not None else '–'})"),
             row("under load (while ≥ 90 % of orders sell): seconds, units sold, API calls (per unit sold)",
                 lambda m: f"{m['under_load']['seconds']} s, {m['under_load']['sold']:,}, "
                 f"{m['under_load'].get('calls', '–')} ({m['under_load'].get('calls_per_sale', '–')})"),
             row("cost points (per unit sold)", lambda m: f"{m['shopify']['cost_spent']:,} "
                 f"({m['cost_per_sale'] if m['cost_per_sale'] is not None else '–'})"),
             row("throttled answers", lambda m: f"{m['throttled']:,}"),
             row("stale compare-and-set answers", lambda m: f"{m['shopify']['stale']:,}"),
             row("webhook ack p50 / p99", lambda m: f"{m['webhook_ack_ms']['p50']} / {m['webhook_ack_ms']['p99']} ms"),
             row("errors", lambda m: f"{m['errors']}")]
    lines += ["", "| target (push on) | measured | |", "| --- | ---: | :---: |"]
    for name, v in report["verdicts"].items():
        lines.append(f"| {name} {v['target']} | {v['value']} | {'PASS' if v['pass'] else '**FAIL**'} |")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    off, on = report["modes"]["off"], report["modes"]["on"]
    n = len(off["oversold_per_store"])
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    s = report["settings"]
    fig.suptitle(f"Units oversold on one depósito: {s['lojas']} stores, {s['skus']} SKUs, {off['initial_units']} units, "
                 f"{s['rate']:.0f} orders/s for {s['duration_s']:.0f} s ({report['when']}, "
                 f"STOCK_PUSH_MIN_INTERVAL={s['min_interval']}, URGENT={s.get('urgent_interval')})", fontsize=10)
    ax = axes[0]
    labels = [f"store {i + 1}" for i in range(n)] + ["total"]
    xs = range(len(labels))
    offv = off["oversold_per_store"] + [off["oversold"]]
    onv = on["oversold_per_store"] + [on["oversold"]]
    ax.bar([x - 0.2 for x in xs], offv, width=0.4, label="push off", color="#d62728")
    ax.bar([x + 0.2 for x in xs], onv, width=0.4, label="push on", color="#2ca02c")
    for x, v in zip(xs, offv):
        ax.text(x - 0.2, v, str(v), ha="center", va="bottom", fontsize=8)
    for x, v in zip(xs, onv):
        ax.text(x + 0.2, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("units sold beyond the depósito's stock")
    ax.set_title("oversold, per store and in total")
    ax.legend()
    ax = axes[1]
    delays = on.get("delay_s_all") or []
    atrasos = [a / 1000 for a in on.get("atraso_ms_all") or []]
    top = max(delays + atrasos + [TARGETS["push_delay_p99_s"] * 1.2])
    bins = [i * top / 40 for i in range(41)]
    if delays:
        ax.hist(delays, bins=bins, alpha=0.6, density=True, label=f"sale → every other store shows it ({len(delays)} sales)")
    if atrasos:
        ax.hist(atrasos, bins=bins, alpha=0.5, density=True, label=f"EnvioEstoque.atraso_ms ({len(atrasos)} confirmations)")
    ax.axvline(TARGETS["push_delay_p99_s"], color="red", linestyle="--", label="p99 target 2 s")
    if on.get("delay_s", {}).get("p99") is not None:
        ax.axvline(on["delay_s"]["p99"], color="black", linestyle=":", label=f"p99 {on['delay_s']['p99']:.2f} s")
    ax.set_xlabel("seconds")
    ax.set_ylabel("density")
    ax.set_title("push delay (push on)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="15 s of sales per mode: proves the harness")
    ap.add_argument("--duration", type=float, help="seconds of sales per mode (60; --quick 15)")
    ap.add_argument("--rate", type=float, default=50.0, help="orders per second, all stores together")
    ap.add_argument("--lojas", type=int, default=5)
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--stock", default="3-8", help="units per SKU, drawn in this range")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between reads of every store's levels")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the ChegouHub server")
    for flag, var, default in PUSH_SETTINGS:
        ap.add_argument(flag, type=float, default=float(os.environ.get(var, default)),
                        help=f"{var} for push_stock (default: the env var, else {default})")
    ap.add_argument("--profile-pusher", action="store_true", help="time each step of push_stock's rounds")
    ap.add_argument("--modes", default="off,on", help="diagnosis: run only some modes (the report needs both)")
    ap.add_argument("--out", default=str(RESULTS / "oversold.json"))
    args = ap.parse_args(argv)
    args.duration = args.duration or (15.0 if args.quick else 60.0)
    lo, hi = (int(x) for x in args.stock.split("-"))
    started = time.monotonic()
    ensure_services(redis=False)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-oversold-", dir=ROOT / "artifacts"))
    (log_dir / "app-logs").mkdir()
    from chegouhub.devtools.fake_shopify.server import FakeShopifyServer

    fake = FakeShopifyServer(bucket_size=BUCKET["bucket_size"], restore_rate=BUCKET["restore_rate"],
                             log_path=log_dir / "fake-shopify.log").start()
    server = None
    try:
        setup_database(fake.admin_url_template, log_dir)
        env = child_env(log_dir, fake.admin_url_template, args)
        server, port = start_server(env, log_dir, args.workers)
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="bench-oversold")
        stock = make_stock(args.skus, lo, hi, args.seed)
        orders = make_orders(int(args.rate * args.duration) + 10, args.lojas, list(stock), args.seed)
        log(f"{'quick' if args.quick else 'full'} run: {args.lojas} lojas, {args.skus} SKUs, {sum(stock.values())} "
            f"units, {args.rate:.0f} orders/s x {args.duration:.0f} s per mode; logs in {log_dir}")
        modes = {}
        for mode in [m for m in ("off", "on") if m in args.modes.split(",")]:
            modes[mode] = run_mode(mode, fake=fake, user=user, stock=stock, orders=orders, args=args,
                                   log_dir=log_dir, env=env, server_port=port, server=server)
            m = modes[mode]
            log(f"[{mode}] sold {m['sold']} refused {m['refused']} oversold {m['oversold']} "
                f"(ledger {m['ledger_oversold']}) calls {m['shopify']['graphql_calls']} "
                f"throttled {m['throttled']} delay {m.get('delay_s')} atraso {m.get('atraso_ms')} errors {m['errors']}")
    finally:
        if server:
            server.stop()
        fake.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": "python -m bench.oversold" + (" --quick" if args.quick else "")
                   + "".join(f" {flag} {getattr(args, _dest(flag))}" for flag, _, default in PUSH_SETTINGS
                             if getattr(args, _dest(flag)) != default),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"lojas": args.lojas, "skus": args.skus, "stock_range": [lo, hi], "seed": args.seed,
                     "rate": args.rate, "duration_s": args.duration, "poll_s": args.poll, "workers": args.workers,
                     **{_dest(flag): getattr(args, _dest(flag)) for flag, _, _ in PUSH_SETTINGS}, "bucket": BUCKET},
        "targets": TARGETS,
        "delay_measure": "sale's webhook answer -> every other store's fake level shows at most the depósito's "
                         "level after that sale (polled); EnvioEstoque.atraso_ms reported beside it",
        "oversold_measure": "per SKU max(sold - initial, 0); the units beyond the stock are the last sales in the "
                            "fake's order-id sequence, attributed to their stores",
        "modes": modes,
    }
    if len(modes) < 2:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"modes": modes, "settings": vars(args)}, indent=1, default=str))
        log(f"only {list(modes)}: no comparison; {out}")
        return 2
    report["verdicts"] = verdicts(modes["off"], modes["on"])
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    try:
        plot(report, out.with_suffix(".png"))
    except ImportError as exc:
        log(f"no plot ({exc})")
    print(table(report), flush=True)
    for name, v in report["verdicts"].items():
        print(f"{'PASS' if v['pass'] else 'FAIL'}  {name}: {v['value']} (target {v['target']})")
    log(f"done in {report['elapsed_s']} s: {out}")
    ok = all(v["pass"] for v in report["verdicts"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
