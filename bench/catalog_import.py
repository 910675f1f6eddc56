"""Importing a large Shopify catalog against the throttling fake (docs/catalog.md). Not a test.

    python -m bench.catalog_import                       # 20,000 variants, bulk then pages (~30 min)
    python -m bench.catalog_import --variants 2000       # a quick look
    python -m bench.catalog_import --modes bulk --database-url postgres://postgres@127.0.0.1:5432/catalog_bench

The fake Shopify runs as its own process with Shopify's standard bucket (1,000 points restoring
50 per second) unless told otherwise; each mode imports its own shop (same catalog: `--variants`
variants in products of 4, one in 500 without SKU) into an empty loja, through the same code the
worker runs (`chegouhub.catalog.services.run_import`). Measured per mode: wall-clock seconds, Admin
API requests, points charged (actualQueryCost), throttled answers, seconds spent waiting for the
bucket; and the database afterwards (produtos, links, `importacao` movements). Each mode is bounded
by `--timeout` seconds. Writes bench/results/catalog.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DB = os.environ.get("BENCH_CATALOG_DB_URL", "postgres://postgres@127.0.0.1:5432/chegouhub_connect_bench")


def _ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.catalog_import")
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--modes", default="bulk,paginas", help="comma-separated: bulk, paginas")
    parser.add_argument("--bucket-size", type=float, default=1000)
    parser.add_argument("--restore-rate", type=float, default=50)
    parser.add_argument("--bulk-rate", type=float, default=None, help="objects/s the fake's bulk query writes")
    parser.add_argument("--timeout", type=float, default=2700, help="seconds allowed per mode")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--out", default=str(RESULTS / "catalog.json"))
    args = parser.parse_args(argv)

    _ensure_database(args.database_url)
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SECRET_KEY="bench-only-secret-key-0123456789",
                      DJANGO_DEBUG="false", DJANGO_SETTINGS_MODULE="config.settings",
                      LOG_DIR=str(ROOT / "artifacts" / "logs-bench-catalog"))
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from chegouhub.catalog import services
    from chegouhub.catalog.models import VarianteShopify
    from chegouhub.devtools.fake_shopify.server import FakeShopifyServer
    from chegouhub.inventory.models import Movimentacao, Produto
    from chegouhub.stores.models import Loja

    call_command("migrate", verbosity=0)
    fake = FakeShopifyServer(bucket_size=args.bucket_size, restore_rate=args.restore_rate).start()
    settings.SHOPIFY_ADMIN_URL_TEMPLATE = fake.admin_url_template
    user, _ = get_user_model().objects.get_or_create(username="bench-catalogo")
    stamp = int(time.time())
    results = []
    try:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            shop = f"bench-{mode}-{stamp}.myshopify.com"
            token = f"shpat_bench_{mode}_{stamp}"
            spec = {"bulk_rate": args.bulk_rate} if args.bulk_rate else {}
            fake.add_shop(shop, token, **spec)
            fake.generate_catalog(shop, args.variants, per_product=4, sem_sku_every=500)
            loja = Loja.objects.create(owner=user, nome=f"Bench {mode}", shop_domain=shop, access_token=token,
                                       webhook_secret="bench-secret")
            importacao, _ = services.queue_import(loja=loja)
            assert services.claim_import(importacao.pk)
            importacao.refresh_from_db()
            threshold = 0 if mode == "bulk" else 10**9
            print(f"[{mode}] importing {args.variants:,} variants of {shop}…", flush=True)
            last = [0.0]

            def progress(state, mode=mode, last=last):
                if time.monotonic() - last[0] > 30:
                    last[0] = time.monotonic()
                    print(f"  [{mode}] {state.processados:,}/{state.total:,}", flush=True)

            signal.signal(signal.SIGALRM, _timeout)
            signal.alarm(int(args.timeout))
            started = time.perf_counter()
            try:
                done = services.run_import(importacao, on_progress=progress, bulk_threshold=threshold)
                timed_out = False
            except TimeoutError:
                done, timed_out = None, True
            finally:
                signal.alarm(0)
            seconds = time.perf_counter() - started
            importacao.refresh_from_db()
            stats = fake.shop(shop)["stats"]
            row = {
                "mode": mode, "variants": args.variants, "seconds": round(seconds, 1), "timed_out": timed_out,
                "status": importacao.status, "modo": importacao.modo, "processados": importacao.processados,
                "criados": importacao.criados, "vinculados": importacao.vinculados, "sem_sku": importacao.sem_sku,
                "requests": stats["requests"], "cost_points": importacao.custo,
                "throttled_answers": stats["throttled"] + stats["http429"],
                "produtos": Produto.objects.filter(loja=loja).count(),
                "links": VarianteShopify.objects.filter(loja=loja).count(),
                "movements": Movimentacao.objects.filter(loja=loja, origem="importacao").count(),
                "erros": importacao.erros,
            }
            if done is not None:
                row["stock_matches_shopify"] = _stock_matches(fake, shop, loja)
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        fake.stop()
    payload = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
               "cpus": os.cpu_count(), "database": args.database_url.split("://")[0],
               "bucket": {"size": args.bucket_size, "restore_rate": args.restore_rate}, "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    _table(results)
    return 0 if all(r["status"] == "concluida" for r in results) else 1


def _stock_matches(fake, shop, loja) -> bool:
    from chegouhub.inventory.models import Produto

    remote = {v["sku"]: v["available"] for v in fake.catalog(shop)["variants"] if v["sku"]}
    return dict(Produto.objects.filter(loja=loja).values_list("sku", "estoque_atual")) == remote


def _timeout(signum, frame):
    raise TimeoutError("mode took longer than --timeout")


def _table(results: list[dict]) -> None:
    print(f"{'mode':8} {'variants':>9} {'seconds':>8} {'requests':>9} {'points':>8} {'throttled':>9} {'status':>10}")
    for r in results:
        print(f"{r['mode']:8} {r['variants']:>9,} {r['seconds']:>8.1f} {r['requests']:>9,} {r['cost_points']:>8,} "
              f"{r['throttled_answers']:>9,} {r['status']:>10}")


if __name__ == "__main__":
    raise SystemExit(main())
