"""A year of a busy store's history, grown set-based, and the dashboard's reads timed on it (issue 31).

    python -m bench.history grow --orders 1000000            # DATABASE_URL's database, migrated first
    python -m bench.history measure [--label after] [--out bench/results/history-after.json]
    python -m bench.history prune                             # the worker's retention passes, then sizes

`grow` adds N `orders/paid` orders the way the webhook path leaves them, spread over the last
`--days` days (default 365), oldest first: per order one delivery (its raw body only for the last
WEBHOOK_BODY_RETENTION_DAYS, as the body retention leaves it; 1% with an unmapped SKU), one ledger
row, two movements, three events (the sale and two stock changes) and one sale value, over
`--produtos` produtos (default 20,000) of one loja. Only columns main's schema already has are
written, so the same database can be measured with an older checkout's code, then migrated.

`measure` times each read in-process (DRF's test client, no network), median of 5 after one warm-up,
and prints the database's size per table. Run it with another checkout's code to compare:
`cd /work/main && DATABASE_URL=... python /path/to/bench/history.py measure --label before`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file from another checkout: that checkout's code
    sys.path.insert(0, os.getcwd())

BENCH_USER = "historia"
SHOP = "historia-bench.myshopify.com"
UNMAPPED_EVERY = 100  # one order in 100 has a SKU no produto has

# One chunk of orders [lo, hi): %(x)s parameters; t(g) spreads order g over the window, newest last.
CHUNK_SQL = """
CREATE TEMP TABLE IF NOT EXISTS hist_chunk (g bigint, t timestamptz, p1 bigint, p2 bigint) ON COMMIT DROP;
TRUNCATE hist_chunk;
INSERT INTO hist_chunk
SELECT g, %(now)s::timestamptz - (%(total)s - g) * (%(days)s * interval '1 day') / %(total)s,
       %(pbase)s + (g * 7) %% %(np)s, %(pbase)s + (g * 13 + 1) %% %(np)s
  FROM generate_series(%(lo)s, %(hi)s - 1) g;

INSERT INTO shopify_webhookdelivery (loja_id, shop_domain, topic, webhook_id, event_id, api_version, triggered_at,
  body, status, attempts, last_error, order_id, unmapped_skus, invalid_lines, created_at, processed_at)
SELECT %(loja)s, %(shop)s, 'orders/paid', 'hist-' || g, 'hist-ev-' || g, '2026-10', '',
       CASE WHEN t > %(now)s::timestamptz - %(body_days)s * interval '1 day'
            THEN convert_to(replace(%(body)s, '"id":820982911946154508', '"id":' || g), 'UTF8') ELSE '' END,
       'processed', 1, '', g,
       CASE WHEN g %% %(unmapped_every)s = 0 THEN jsonb_build_array('SEM-MAPA-' || (g / %(unmapped_every)s) %% 50)
            ELSE '[]'::jsonb END,
       '[]'::jsonb, t, t
  FROM hist_chunk;

INSERT INTO shopify_orderledger (loja_id, order_id, order_name, paid, cancelled, paid_lines, refunds, applied, updated_at)
SELECT %(loja)s, g, '#' || (1000 + g), true, false,
       jsonb_build_object(g * 10 + 1, jsonb_build_object('sku', 'SKU-' || p1, 'produto_id', p1, 'quantidade', 1),
                          g * 10 + 2, jsonb_build_object('sku', 'SKU-' || p2, 'produto_id', p2, 'quantidade', 1)),
       '{}'::jsonb, jsonb_build_object(g * 10 + 1, -1, g * 10 + 2, -1), t
  FROM hist_chunk;

INSERT INTO inventory_movimentacao (produto_id, loja_id, quantidade, estoque_anterior, estoque_atual, origem,
  referencia, motivo, created_at)
SELECT p, %(loja)s, -1, 1000, 999, 'shopify_pedido_pago', g::text, '', t
  FROM hist_chunk, LATERAL (VALUES (p1), (p2)) AS v(p);

INSERT INTO realtime_event (stream, type, loja_id, deposito_id, user_id, priority, data, created_at)
SELECT 'estoque', e.type, %(loja)s, %(deposito)s, NULL, 'normal', e.data, t
  FROM hist_chunk, LATERAL (VALUES
    ('venda_shopify_processada', jsonb_build_object('loja_id', %(loja)s, 'deposito_id', %(deposito)s, 'order_id', g,
      'order_name', '#' || (1000 + g), 'itens', jsonb_build_array(
        jsonb_build_object('sku', 'SKU-' || p1, 'produto_id', p1, 'quantidade', 1, 'estoque_anterior', 1000,
                           'estoque_atual', 999),
        jsonb_build_object('sku', 'SKU-' || p2, 'produto_id', p2, 'quantidade', 1, 'estoque_anterior', 1000,
                           'estoque_atual', 999)),
      'nao_mapeados', '[]'::jsonb,
      'valor', jsonb_build_object('total', '199.90', 'moeda', 'BRL', 'total_apresentado', '199.90',
                                  'moeda_apresentada', 'BRL'))),
    ('estoque_atualizado', jsonb_build_object('loja_id', %(loja)s, 'deposito_id', %(deposito)s, 'produto_id', p1,
      'sku', 'SKU-' || p1, 'estoque_anterior', 1000, 'estoque_atual', 999, 'quantidade', -1,
      'origem', 'shopify_pedido_pago')),
    ('estoque_atualizado', jsonb_build_object('loja_id', %(loja)s, 'deposito_id', %(deposito)s, 'produto_id', p2,
      'sku', 'SKU-' || p2, 'estoque_anterior', 1000, 'estoque_atual', 999, 'quantidade', -1,
      'origem', 'shopify_pedido_pago'))
  ) AS e(type, data);

INSERT INTO sales_valorvenda (loja_id, order_id, tipo, referencia, valor, moeda, valor_apresentado, moeda_apresentada,
  unidades, ocorrido_em)
SELECT %(loja)s, g, 'pedido', g::text, 199.90, 'BRL', 199.90, 'BRL', 2, t FROM hist_chunk;
"""

BIG_TABLES = ["shopify_webhookdelivery", "shopify_orderledger", "inventory_movimentacao", "realtime_event",
              "sales_valorvenda", "inventory_produto", "shopify_webhookdailycount"]


def setup_django():
    # Only when run as a command: the suite imports this module (tests/perf), and its environment
    # is inherited by the live servers the suite starts.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    import django

    django.setup()


def bench_owner(*, produtos: int = 20_000):
    """The bench's user, loja and produtos (created once)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from chegouhub.inventory.models import Produto
    from chegouhub.stores.models import Loja

    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER)
    loja = Loja.objects.filter(shop_domain=SHOP).first()
    if loja is None:
        loja = Loja.objects.create(owner=user, nome="Loja histórica", shop_domain=SHOP,
                                   webhook_secret="shpss_bench_history", access_token="shpat_bench_history")
    if not Produto.objects.filter(loja=loja).exists():
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO inventory_produto (loja_id, deposito_id, sku, nome, estoque_atual, estoque_minimo,"
                " updated_at) SELECT %s, %s, 'SKU-' || g, 'Produto ' || g, 1000, 5, now()"
                " FROM generate_series(1, %s) g", [loja.pk, loja.deposito_id, produtos])
    return user, loja


def grow_history(*, loja, orders: int, days: float = 365, body_days: int = 30, first_order: int = 1,
                 chunk: int = 50_000, progress=None) -> None:
    """Add `orders` orders of history to `loja` (see the module's docstring), set-based, in chunks."""
    from django.db import connection, transaction
    from django.utils import timezone

    body = (Path(__file__).resolve().parent.parent / "chegouhub/devtools/fixtures/shopify-sample-order.json")
    template = json.dumps(json.loads(body.read_text()), separators=(",", ":"))
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), count(*) FROM inventory_produto WHERE deposito_id = %s", [loja.deposito_id])
        pbase, n_produtos = cur.fetchone()
    total = first_order + orders
    now = timezone.now()
    for lo in range(first_order, total, chunk):
        hi = min(lo + chunk, total)
        params = {"now": now, "total": total, "days": days, "lo": lo, "hi": hi, "pbase": pbase, "np": n_produtos,
                  "loja": loja.pk, "deposito": loja.deposito_id, "shop": loja.shop_domain, "body": template,
                  "body_days": body_days, "unmapped_every": UNMAPPED_EVERY}
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(CHUNK_SQL, params)
        if progress:
            progress(hi - first_order, orders)


def table_sizes() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for table in BIG_TABLES:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            if cur.fetchone()[0]:
                cur.execute("SELECT pg_total_relation_size(%s), (SELECT count(*) FROM " + table + ")", [table])
                size, rows = cur.fetchone()
                out[table] = {"bytes": size, "rows": rows}
        cur.execute("SELECT pg_database_size(current_database())")
        out["database"] = {"bytes": cur.fetchone()[0]}
    return out


def reads(loja) -> dict[str, str]:
    return {
        "webhook_stats_30d": "/api/estoque/webhook/stats/?days=30",
        "movimentacoes_loja": f"/api/estoque/movimentacoes/?loja_id={loja.pk}",
        "vendas_resumo_30d": "/api/vendas/resumo/?days=30",
        "events_loja": f"/api/sync-realtime/events/?loja_id={loja.pk}",
        "movimentacoes_loja_manual": f"/api/estoque/movimentacoes/?loja_id={loja.pk}&origem=manual",
        "movimentacoes_produto": f"/api/estoque/movimentacoes/?produto_id={{produto}}",
        "entregas_loja": f"/api/estoque/webhook/entregas/?loja_id={loja.pk}&page_size=20",
        "entregas_loja_dead": f"/api/estoque/webhook/entregas/?loja_id={loja.pk}&page_size=20&status=dead",
        "alertas": "/api/estoque/alertas/",
        "divergencias": f"/api/estoque/divergencias/?loja_id={loja.pk}",
        "produtos_500": f"/api/estoque/produtos/?loja_id={loja.pk}&page_size=500",
    }


def measure(*, repeat: int = 5) -> dict:
    from rest_framework.test import APIClient

    from chegouhub.inventory.models import Produto

    user, loja = bench_owner()
    client = APIClient()
    client.force_authenticate(user)
    produto = Produto.objects.filter(loja=loja).order_by("id").values_list("id", flat=True).first()
    out = {}
    for name, url in reads(loja).items():
        url = url.format(produto=produto)
        r = client.get(url)
        if r.status_code != 200:
            out[name] = {"url": url, "status": r.status_code}
            continue
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"url": url, "median_ms": round(statistics.median(times), 1)}
    return out


def prune() -> dict:
    from django.db import connection

    from chegouhub.realtime.retention import prune_expired_events

    t0 = time.perf_counter()
    counts = prune_expired_events(max_batches=10**6)
    seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        # Deleted rows' space is reused by new events; VACUUM FULL shows the size the table settles at.
        cur.execute("VACUUM FULL realtime_event")
    return {"pruned": counts, "seconds": round(seconds, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grow")
    g.add_argument("--orders", type=int, default=1_000_000)
    g.add_argument("--produtos", type=int, default=20_000)
    g.add_argument("--days", type=float, default=365)
    g.add_argument("--no-migrate", action="store_true")
    m = sub.add_parser("measure")
    m.add_argument("--label", default="")
    m.add_argument("--out", default="")
    sub.add_parser("prune")
    sub.add_parser("sizes")
    args = parser.parse_args(argv)
    setup_django()
    if args.cmd == "grow":
        from django.core.management import call_command
        from django.db import connection

        if not args.no_migrate:
            call_command("migrate", verbosity=0)
        _, loja = bench_owner(produtos=args.produtos)
        from chegouhub.shopify.models import OrderLedger

        first = (OrderLedger.objects.filter(loja=loja).order_by("-order_id").values_list("order_id", flat=True)
                 .first() or 0) + 1
        t0 = time.perf_counter()
        grow_history(loja=loja, orders=args.orders, days=args.days, first_order=first,
                     progress=lambda done, total: print(f"{done}/{total} orders, {time.perf_counter() - t0:.0f} s",
                                                        flush=True))
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        print(json.dumps({"grown_seconds": round(time.perf_counter() - t0), "sizes": table_sizes()}, indent=1))
    elif args.cmd == "measure":
        result = {"label": args.label, "reads": measure(), "sizes": table_sizes()}
        text = json.dumps(result, indent=1)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n")
    elif args.cmd == "prune":
        print(json.dumps({**prune(), "sizes": table_sizes()}, indent=1))
    elif args.cmd == "sizes":
        print(json.dumps(table_sizes(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
