"""Reads that do not grow (issue 31 item 2): with a long history behind them, the API's lists and
summaries read a bounded number of rows, from indexes, in a few queries.

The history is seeded set-based (bench/history.py, the same SQL as the 1,000,000-order benchmark),
then each read is requested over the API, its queries captured, and each query run again under
EXPLAIN (ANALYZE, FORMAT JSON): no sequential scan on a big table, and the rows read from the big
tables stay far below the history's size. Rows and plans, not time: the machine's speed does not
decide the result.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench.history import bench_owner, grow_history, reads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ORDERS = 100_000  # 100,000 deliveries, ledger rows and sale values, 200,000 movements, 300,000 events
BIG_TABLES = {"shopify_webhookdelivery", "shopify_orderledger", "inventory_movimentacao", "realtime_event",
              "sales_valorvenda"}
# Rows a page or a summary may read from the big tables: a page, a day of deliveries, a poll.
MAX_ROWS_READ = 2_000
# The sales summary reads its window's sale values (30 days: 1/12 of this history), through its index.
WINDOWED = {"vendas_resumo_30d"}
MAX_QUERIES = 6


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explain(sql: str) -> dict:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        raw = cur.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def big_table_reads(plan: dict) -> tuple[list[str], int]:
    """(sequential scans of big tables, rows the plan read from big tables)."""
    seq, rows = [], 0
    for node in plan_nodes(plan):
        if node.get("Relation Name") in BIG_TABLES:
            if node["Node Type"] == "Seq Scan":
                seq.append(node["Relation Name"])
            rows += int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
            rows += int(node.get("Rows Removed by Filter", 0)) + int(node.get("Rows Removed by Index Recheck", 0))
    return seq, rows


@pytest.fixture
def long_history(db):
    user, loja = bench_owner(produtos=20_000)
    grow_history(loja=loja, orders=ORDERS, days=365)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return user, loja


def test_lists_and_summaries_read_from_indexes_whatever_the_history(long_history):
    user, loja = long_history
    client = APIClient()
    client.force_authenticate(user)
    produto = loja.produtos.order_by("id").values_list("id", flat=True).first()
    problems = []
    for name, url in reads(loja).items():
        url = url.format(produto=produto)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
        if len(ctx.captured_queries) > MAX_QUERIES:
            problems.append(f"{url}: {len(ctx.captured_queries)} queries")
        for sql in selects:
            seq, rows = big_table_reads(explain(sql))
            if seq:
                problems.append(f"{url}: sequential scan of {sorted(set(seq))}: {sql[:200]}")
            if name not in WINDOWED and rows > MAX_ROWS_READ:
                problems.append(f"{url}: read {rows} rows of the history: {sql[:200]}")
    assert not problems, "\n".join(problems)


def test_long_lists_page_by_cursor_with_links_and_no_count(long_history):
    user, loja = long_history
    client = APIClient()
    client.force_authenticate(user)
    first = client.get(f"/api/estoque/movimentacoes/?loja_id={loja.pk}&page_size=3").json()
    assert first["count"] is None and first["previous"] is None
    assert len(first["results"]) == 3
    ids = [m["id"] for m in first["results"]]
    assert ids == sorted(ids, reverse=True)
    second = client.get(first["next"]).json()
    assert [m["id"] for m in second["results"]] == list(range(ids[-1] - 1, ids[-1] - 4, -1))
    back = client.get(second["previous"]).json()
    assert [m["id"] for m in back["results"]] == ids
    # A client still paging by number gets the same pages.
    by_number = client.get(f"/api/estoque/movimentacoes/?loja_id={loja.pk}&page_size=3&page=2").json()
    assert by_number["results"] == second["results"] and by_number["count"] is None
    assert "page=3" in by_number["next"] and "page=" not in by_number["previous"]
