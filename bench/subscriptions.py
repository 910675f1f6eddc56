"""How long configuring the webhooks of many lojas takes against the throttling fake Shopify (issue 4).

    python -m bench.subscriptions                      # 500 lojas, default Shopify-like buckets
    python -m bench.subscriptions --lojas 500 --bucket-size 100 --restore-rate 50 --available 30
    python -m bench.subscriptions --concurrency 25 --throttle-mode mixed

A throwaway PostgreSQL (the embedded one's, on a temporary directory; or BENCH_SUB_DATABASE_URL)
gets a user and N lojas; the fake Shopify runs as its own server process with per-shop leaky
buckets; `configure_webhooks` runs twice (the first creates 4 subscriptions per loja, the second
must create nothing) and each run is timed.
Not a test: it prints the figures (and writes them as JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _throwaway_postgres(home: Path) -> str:
    import atexit

    from chegouhub.common.embedded_pg import Server

    server = Server(home, fsync="off")
    port = server.start()
    atexit.register(server.stop)
    server.ensure_database(port)
    return server.url(port)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lojas", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--bucket-size", type=float, default=1000.0, help="per-shop bucket (Shopify: 1000+)")
    parser.add_argument("--restore-rate", type=float, default=50.0, help="points per second per shop")
    parser.add_argument("--available", type=float, default=None, help="initial bucket level (default: full)")
    parser.add_argument("--throttle-mode", choices=("graphql", "http429", "mixed"), default="mixed")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="bench-subscriptions-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ["LOG_DIR"] = os.environ.get("LOG_DIR", f"{tmp}/logs")
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_SUB_DATABASE_URL") or _throwaway_postgres(Path(tmp) / "pg")

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from chegouhub.devtools.fake_shopify.server import FakeShopifyServer
    from chegouhub.shopify import subscriptions
    from chegouhub.stores.models import Deposito, Loja

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-subscriptions")
    Loja.objects.filter(owner=user).delete()
    depositos = Deposito.objects.bulk_create([Deposito(owner=user, nome=f"Bench {i}") for i in range(args.lojas)])
    Loja.objects.bulk_create([
        Loja(owner=user, nome=f"Bench {i}", shop_domain=f"bench-sub-{i:05d}.myshopify.com",
             access_token=f"shpat_bench_{i:05d}", webhook_secret="bench-secret", deposito=depositos[i])
        for i in range(args.lojas)
    ])
    lojas = list(Loja.objects.filter(owner=user).order_by("pk"))

    figures: dict = {"lojas": args.lojas, "concurrency": args.concurrency, "bucket_size": args.bucket_size,
                     "restore_rate": args.restore_rate, "available": args.available,
                     "throttle_mode": args.throttle_mode, "database": settings.DATABASES["default"]["ENGINE"]}
    with FakeShopifyServer(bucket_size=args.bucket_size, restore_rate=args.restore_rate,
                           throttle_mode=args.throttle_mode) as fake:
        settings.SHOPIFY_ADMIN_URL_TEMPLATE = fake.admin_url_template
        spec = {"bucket_size": args.bucket_size, "restore_rate": args.restore_rate,
                "throttle_mode": args.throttle_mode}
        if args.available is not None:
            spec["available"] = args.available
        fake.add_shops([{"shop": loja.shop_domain, "token": loja.access_token, **spec} for loja in lojas])

        for run in ("first", "second"):
            started = time.perf_counter()
            summary = subscriptions.configure_webhooks(lojas=lojas, base_domain="https://bench.chegouhub.test",
                                                       concurrency=args.concurrency)
            seconds = time.perf_counter() - started
            durations = sorted(r.duracao_ms for r in summary.results)
            figures[run] = {
                "seconds": round(seconds, 2),
                "remote_seconds": round(summary.seconds, 2),
                "ok": len(summary.succeeded),
                "failed": len(summary.failed),
                "created": sum(len(r.criados) for r in summary.results),
                "requests": sum(r.requisicoes for r in summary.results),
                "throttled_answers": sum(r.limitado for r in summary.results),
                "loja_p50_ms": durations[len(durations) // 2],
                "loja_max_ms": durations[-1],
                "lojas_per_s": round(args.lojas / seconds, 1),
            }
        figures["fake_stats"] = fake.stats()

    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
