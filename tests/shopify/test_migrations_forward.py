"""Issue 14's schema changes carry existing data forward.

A fresh database is migrated to the schema as it was before (shopify 0003, inventory 0003, common
0001), filled through the historical models, then migrated to the end: rejections are folded into
one counter per loja, reason and minute, stock columns take 64-bit values, the reconciliation cursor
is still there under its new app, and deliveries keep their rows. Issue 17's: every loja gets its
own depósito holding its produtos and its stock events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.live import ROOT, scratch_database_url

SCRIPT = r'''
import json
from datetime import datetime, timedelta, timezone as tz
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

OLD = [("shopify", "0003_drop_redundant_indexes"), ("inventory", "0003_drop_loja_indexes"), ("common", "0001_initial"),
       ("stores", "0004_loja_manter_historico"), ("realtime", "0002_drop_redundant_indexes"),
       ("privacy", "0001_initial")]
ex = MigrationExecutor(connection)
ex.migrate(OLD)
apps = MigrationExecutor(connection).loader.project_state(OLD).apps
User, Loja = apps.get_model("auth", "User"), apps.get_model("stores", "Loja")
Produto, Rejection = apps.get_model("inventory", "Produto"), apps.get_model("shopify", "WebhookRejection")
Delivery, Cursor = apps.get_model("shopify", "WebhookDelivery"), apps.get_model("common", "ReconcileCursor")
owner = User.objects.create(username="antes", password="!")
loja = Loja.objects.create(owner=owner, nome="Antes", shop_domain="antes.myshopify.com")
produto = Produto.objects.create(loja=loja, sku="A", nome="A", estoque_atual=2**31 - 1)
minute = datetime(2026, 11, 30, 12, 0, tzinfo=tz.utc)
for seconds, reason in ((1, "duplicado"), (20, "duplicado"), (59, "duplicado"), (61, "duplicado"), (5, "hmac_invalido")):
    row = Rejection.objects.create(loja=loja, reason=reason, topic="orders/paid")
    Rejection.objects.filter(pk=row.pk).update(created_at=minute + timedelta(seconds=seconds))
Rejection.objects.create(loja=None, reason="hmac_invalido")
Delivery.objects.create(loja=loja, shop_domain=loja.shop_domain, topic="orders/paid", webhook_id="w-antes",
                        body=b"{}", status="processed", duplicates=3)
Cursor.objects.create(loja=loja, orders_until=minute)
# Issue 17: two lojas of one user, each with its own "A" (one stock each, as before depósitos).
Event = apps.get_model("realtime", "Event")
segunda = Loja.objects.create(owner=owner, nome="Segunda", shop_domain="segunda.myshopify.com")
Produto.objects.create(loja=segunda, sku="A", nome="A da segunda", estoque_atual=5)
for l in (loja, segunda):
    Event.objects.create(stream="estoque", type="estoque_atualizado", loja=l, data={"loja_id": l.pk})
# Issue 20: a customer request keyed by the customer's own Shopify id, before keys held a digest.
Pedido = apps.get_model("privacy", "PedidoPrivacidade")
Pedido.objects.create(loja=loja, tipo="customers_redact", chave="c:987654321:1001,1002", webhook_id="w-priv")

ex = MigrationExecutor(connection)
ex.migrate(ex.loader.graph.leaf_nodes())
from chegouhub.inventory.models import Produto as P
from chegouhub.shopify.models import ReconcileCursor, WebhookDelivery, WebhookRejection
P.objects.filter(pk=produto.pk).update(estoque_atual=2**40)
print(json.dumps({
    "rejections": sorted([r.reason, r.created_at.isoformat(), r.count] for r in WebhookRejection.objects.all()),
    "stock": P.objects.get(pk=produto.pk).estoque_atual,
    "cursor": ReconcileCursor.objects.get(loja_id=loja.pk).orders_until.isoformat(),
    "deliveries": [[d.webhook_id, d.invalid_lines] for d in WebhookDelivery.objects.all()],
    "depositos": sorted([l.nome, l.deposito.nome, l.deposito.owner_id == owner.pk,
                         sorted(p.sku for p in P.objects.filter(deposito=l.deposito)),
                         sorted(e.loja_id for e in __import__("chegouhub.realtime.models", fromlist=["Event"])
                                .Event.objects.filter(deposito=l.deposito))]
                        for l in __import__("chegouhub.stores.models", fromlist=["Loja"]).Loja.objects.all()),
    "lojas": [loja.pk, segunda.pk],
    "chaves": [p.chave for p in __import__("chegouhub.privacy.models", fromlist=["P"]).PedidoPrivacidade.objects.all()],
    "chave_nova": __import__("chegouhub.privacy.services", fromlist=["s"]).request_key(
        "customers/redact", {"customer_id": 987654321, "pedidos": [1001, 1002]}),
}))
'''


def test_existing_rows_are_carried_forward():
    env = dict(os.environ, DATABASE_URL=scratch_database_url("migrations_forward"),
               DJANGO_SECRET_KEY="test-only-secret-key", DJANGO_DEBUG="false")
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SCRIPT], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rejections"] == [
        ["duplicado", "2026-11-30T12:00:00+00:00", 3],  # three in one minute: one counter
        ["duplicado", "2026-11-30T12:01:00+00:00", 1],
        ["hmac_invalido", "2026-11-30T12:00:00+00:00", 1],
    ]  # and the row without a loja, which nothing counted, is gone
    assert result["stock"] == 2**40
    assert result["cursor"] == "2026-11-30T12:00:00+00:00"
    assert result["deliveries"] == [["w-antes", []]]
    first, second = result["lojas"]
    assert result["depositos"] == [  # each loja its own depósito, named after it, with its produtos and events
        ["Antes", "Antes", True, ["A"], [first]],
        ["Segunda", "Segunda", True, ["A"], [second]],
    ]
    (chave,) = result["chaves"]  # the customer's id is gone from the key, replaced by its digest
    assert "987654321" not in chave and chave.startswith("c:") and chave.endswith(":1001,1002")
    assert chave == result["chave_nova"]  # a redelivery still finds the row
