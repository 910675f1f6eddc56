"""The project's tables carry no index that another index already provides.

A non-unique index whose columns (with the same operator classes) start another index on the same
table adds a write to every insert and nothing a lookup needs; on a table not yet analyzed the
planner also took such a copy for a lookup the longer index answers in one entry (products were
resolved by SKU through the loja's index, reading the loja's every product; docs/benchmark.md).
"""

from __future__ import annotations

import pytest
from django.db import connection

PROJECT_APPS = ("inventory", "shopify", "realtime", "stores", "notify", "common", "push")

# The project's indexes (no partial or expression index): table, name, unique, and per column its
# number, operator class, collation and sort options.
INDEXES = """
WITH ix AS (
  SELECT c.relname AS tbl, i.relname AS idx, x.indisunique AS uniq,
    string_to_array(x.indkey::text, ' ')::int[] AS cols, string_to_array(x.indclass::text, ' ')::oid[] AS ops,
    string_to_array(x.indcollation::text, ' ')::oid[] AS colls, string_to_array(x.indoption::text, ' ')::int[] AS opts
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = current_schema() AND x.indpred IS NULL AND x.indexprs IS NULL
    AND split_part(c.relname, '_', 1) = ANY(%s)
)
"""
REDUNDANT = INDEXES + """
SELECT a.tbl, a.idx, b.idx FROM ix a JOIN ix b ON a.tbl = b.tbl AND a.idx <> b.idx
WHERE NOT a.uniq AND cardinality(a.cols) <= cardinality(b.cols)
  AND b.cols[1:cardinality(a.cols)] = a.cols AND b.ops[1:cardinality(a.ops)] = a.ops
  AND b.colls[1:cardinality(a.colls)] = a.colls AND b.opts[1:cardinality(a.opts)] = a.opts
ORDER BY 1, 2
"""
# The same selection, counted for one table: proves the query above looks at the migrated tables.
SEEN = INDEXES + "SELECT count(*) FROM ix WHERE tbl = 'inventory_produto'"


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_index_is_a_copy_of_the_start_of_another():
    with connection.cursor() as cur:
        cur.execute(REDUNDANT, [list(PROJECT_APPS)])
        redundant = cur.fetchall()
        cur.execute(SEEN, [list(PROJECT_APPS)])
        produto_indexes = cur.fetchone()[0]
    assert redundant == []
    assert produto_indexes == 2  # the query looked at the migrated tables: primary key, (loja, sku)
