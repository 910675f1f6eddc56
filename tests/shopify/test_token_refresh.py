"""Expiring offline tokens (CONTRACT 9, docs/tokens.md) over real HTTP against the fake Shopify,
with tokens living a few seconds: a loja keeps working across several expiries while two real
processes call Shopify at once (`push_stock` under a sale burst and the import worker), and each
expiry costs exactly one refresh."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from chegouhub.catalog.models import Importacao, VarianteShopify
from chegouhub.catalog.services import queue_import
from chegouhub.inventory.models import Produto
from chegouhub.stocksync.models import EnvioEstoque, PushPendente
from chegouhub.stocksync.services import queue_loja
from chegouhub.stores.models import Loja
from tests.catalog.test_install import API_KEY, API_SECRET, authorize, callback
from tests import live

ROOT = Path(__file__).resolve().parents[2]
SHOP = "loja-expira.myshopify.com"
LIFETIME = 3  # seconds a token lives (Shopify: 3600)
MARGIN = 1  # renewed this long before it expires (Shopify's one-hour tokens: 300)


@pytest.fixture
def expiring_app(fake_shopify, settings):
    # A refresh answered slowly: a process that finds the token due meanwhile would refresh it too, unless it waits.
    fake_shopify.add_app(API_KEY, API_SECRET, token_lifetime=LIFETIME, refresh_delay=0.4)
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, API_SECRET
    settings.SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE = fake_shopify.authorize_url_template
    settings.SHOPIFY_OAUTH_TOKEN_TEMPLATE = fake_shopify.token_url_template
    settings.SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS = MARGIN
    fake_shopify.add_shop(SHOP, "", bucket_size=20_000, restore_rate=20_000)
    fake_shopify.add_products(SHOP, [{"title": f"Produto {n}", "variants": [
        {"sku": f"EXP-{n}-{size}", "title": size, "available": 400} for size in ("P", "M", "G")]} for n in range(8)])
    return fake_shopify


def process_env(fake) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=live.test_database_url(), DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "x"),
               DJANGO_DEBUG="false", PYTHONUNBUFFERED="1", WEBHOOK_ALLOW_INSECURE_URLS="true",
               SHOPIFY_ADMIN_URL_TEMPLATE=fake.admin_url_template, SHOPIFY_OAUTH_TOKEN_TEMPLATE=fake.token_url_template,
               SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
               SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS=str(MARGIN), STOCK_PUSH_MIN_INTERVAL="0.2")
    env.pop("REDIS_URL", None)
    return env


def start(name: str, args: list[str], env: dict, log_dir: Path) -> subprocess.Popen:
    log_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_dir / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def shopify_shows(fake) -> dict[str, int]:
    return {v["sku"]: v["available"] for v in fake.catalog(SHOP)["variants"]}


@pytest.mark.django_db(transaction=True)
def test_a_loja_keeps_working_across_expiries_with_one_refresh_each(expiring_app, client, user, post_webhook,
                                                                    tmp_path):
    fake = expiring_app
    client.force_login(user)
    assert callback(client, authorize(fake, client, SHOP)).status_code == 302
    loja = Loja.objects.get(shop_domain=SHOP)
    assert loja.refresh_token and loja.token_expira_em is not None
    call_command("import_catalog", "--once", stdout=io.StringIO())  # the install's import (webhooks too)
    Loja.objects.filter(pk=loja.pk).update(sincronizar_estoque=True)
    loja.refresh_from_db()
    queue_loja(loja)
    variants = {v["sku"]: v["id"] for v in fake.catalog(SHOP)["variants"]}

    env = process_env(fake)
    pusher = start("push_stock", ["push_stock", "--interval", "0.1"], env, tmp_path)
    worker = start("import_worker", ["import_catalog", "--worker", "--interval", "0.1"], env, tmp_path)
    rng = random.Random(27)
    sold = 0
    try:
        # Until several expiries were renewed (calls are made on demand: a loaded machine is slower).
        until, looked = time.monotonic() + 90, 0.0
        while time.monotonic() < until:
            if time.monotonic() - looked > 0.5:
                looked = time.monotonic()
                if len(fake.shop(SHOP)["token_refreshed_at"]) >= 4:
                    break
            queue_import(loja=loja)  # the worker imports again and again meanwhile (nothing new to create)
            for _ in range(4):  # a sale burst: each sale a signed orders/paid, each a push to Shopify
                order = fake.sell(SHOP, [(variants[rng.choice(sorted(variants))], 1)])
                assert order.status_code == 201, order.text
                assert post_webhook(loja, "orders/paid", order.json()).status_code == 200
                sold += 1
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        expected = {}
        while time.monotonic() < deadline:
            expected = dict(Produto.objects.filter(deposito_id=loja.deposito_id).values_list("sku", "estoque_atual"))
            if (not PushPendente.objects.exists() and shopify_shows(fake) == expected
                    and not Importacao.objects.filter(status__in=["na_fila", "executando"]).exists()):
                break
            time.sleep(0.2)
    finally:
        stop(pusher)
        stop(worker)

    logs = "".join((tmp_path / f"{n}.log").read_text(errors="replace") for n in ("push_stock", "import_worker"))
    assert shopify_shows(fake) == expected, logs[-3000:]  # every sale's push reached Shopify
    assert sum(expected.values()) == 24 * 400 - sold
    state = fake.shop(SHOP)
    refreshes = state["token_refreshed_at"]
    # Several expiries, each renewed once: a second refresh of one token (two processes at once)
    # would come moments after the first, or with a refresh token already replaced.
    assert len(refreshes) >= 4, refreshes
    gaps = [b - a for a, b in zip(refreshes, refreshes[1:])]
    assert min(gaps) > (LIFETIME - MARGIN) / 2, gaps
    assert state["stats"]["refreshes_with_previous_token"] == 0
    assert state["stats"]["refreshes_refused"] == 0
    # Both processes worked across the expiries: the imports ran to the end, the pushes were confirmed.
    done = list(Importacao.objects.filter(status="concluida").values_list("concluida_em", flat=True))
    assert Importacao.objects.filter(status="falhou").count() == 0, logs[-3000:]
    assert len(done) >= 4
    assert EnvioEstoque.objects.filter(loja=loja).count() >= 10
    assert VarianteShopify.objects.filter(loja=loja).count() == 24
    loja.refresh_from_db()
    for log in (tmp_path / "push_stock.log", tmp_path / "import_worker.log"):  # no token in any log
        text = log.read_text(errors="replace")
        assert loja.refresh_token not in text and loja.access_token not in text
