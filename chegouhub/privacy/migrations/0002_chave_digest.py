"""Customer requests recorded before the key held a digest (privacy/services.py) keep the customer's
Shopify id or e-mail in `chave`: rewritten to the same digest the service now computes, so a
redelivered request still finds its row and the value is gone."""

import hashlib
import re

from django.db import migrations

DIGEST = re.compile(r"^[0-9a-f]{64}$")


def digest_old_keys(apps, schema_editor):
    Pedido = apps.get_model("privacy", "PedidoPrivacidade")
    for row in Pedido.objects.filter(chave__startswith="c:").only("id", "chave").iterator():
        _, who, pedidos = row.chave.split(":", 2) if row.chave.count(":") >= 2 else (None, "", "")
        if not who or DIGEST.match(who):
            continue
        chave = f"c:{hashlib.sha256(who.encode()).hexdigest()}:{pedidos}"[:255]
        Pedido.objects.filter(pk=row.pk).update(chave=chave)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(digest_old_keys, migrations.RunPython.noop)]
