"""PostgreSQL restarted in the middle of a stream of webhooks.

While it is down the receiver answers 503 (and /readyz says so), Shopify retries, and once it is
back every order is applied exactly once: nothing lost, nothing doubled. The PostgreSQL that is
stopped is a private instance made for this test, never the shared one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import psycopg
import pytest

from tests.live import ROOT, LiveServer
from tests.reliability.private_postgres import PrivatePostgres
from tests.reliability.shopify_sender import ShopifySender, paid_webhooks

pytestmark = [pytest.mark.postgres, pytest.mark.live]

SEED = """
from django.contrib.auth import get_user_model
from chegouhub.stores.models import Loja
from chegouhub.inventory.services import create_produto
owner = get_user_model().objects.create_user(username="pg-restart", password="senha-forte-123")
loja = Loja.objects.create(owner=owner, nome="PG", shop_domain="pg-restart.myshopify.com",
                           webhook_secret="shpss_pg_restart", access_token="shpat_pg_restart")
create_produto(loja=loja, sku="PG-1", nome="Produto PG", estoque_minimo=0, estoque_inicial=1000)
"""


def manage(db_url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "x"),
               DJANGO_DEBUG="false")
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=180)


@pytest.fixture
def private_pg():
    pg = PrivatePostgres().init()
    try:
        manage(pg.url, "migrate", "--noinput")
        manage(pg.url, "shell", "-c", SEED)
        yield pg
    finally:
        pg.destroy()


def query(pg: PrivatePostgres, sql: str):
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=chegouhub") as conn:
        return conn.execute(sql).fetchone()[0]


def test_postgres_restart_during_a_stream_loses_nothing(private_pg):
    loja = SimpleNamespace(shop_domain="pg-restart.myshopify.com", webhook_secret="shpss_pg_restart")
    n = 60
    webhooks = paid_webhooks(loja, range(300_000, 300_000 + n), "PG-1")
    with LiveServer(workers=2, env={"DATABASE_URL": private_pg.url, "DB_CONNECT_TIMEOUT": "2"}) as server:
        sender = ShopifySender(server.url, concurrency=4, deadline_seconds=120)
        thread = sender.start(webhooks)
        sender.wait_acked(15)
        private_pg.stop("fast")
        try:
            ready = httpx.get(f"{server.url}/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
            deadline = time.monotonic() + 20
            while sender.outcomes[503] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            time.sleep(0.5)
            private_pg.start()
        thread.join(150)
        assert not thread.is_alive()
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    outcomes = dict(sender.outcomes)
    assert sender.failed == [], outcomes
    assert outcomes.get(503, 0) >= 3, outcomes  # Shopify was told to retry while the database was down
    assert not any(isinstance(k, int) and k >= 500 and k != 503 for k in outcomes), outcomes  # never a 500
    assert sender.acked == n
    assert query(private_pg, "SELECT estoque_atual FROM inventory_produto WHERE sku = 'PG-1'") == 1000 - n
    assert query(private_pg, "SELECT count(*) FROM inventory_movimentacao "
                             "WHERE origem = 'shopify_pedido_pago'") == n
    assert query(private_pg, "SELECT count(*) FROM shopify_webhookdelivery WHERE status = 'processed'") == n
    assert query(private_pg, "SELECT count(DISTINCT order_id) FROM shopify_orderledger WHERE paid") == n
    print(f"\nPG restart: {n} webhooks, answers {outcomes}")
