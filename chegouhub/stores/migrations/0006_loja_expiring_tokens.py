"""Expiring offline tokens (CONTRACT 9, docs/tokens.md): the token's origin, its expiry, the refresh
token and its expiry, and when the loja was found to need reconnecting.

Existing lojas: the install flow stores the app's client secret as the loja's webhook secret, and a
merchant's custom app has a secret of its own, so a loja whose webhook secret is SHOPIFY_API_SECRET
came through the install flow (`instalacao`: a non-expiring token, listed by list_permanent_tokens,
stops working on 2027-01-01); every other loja is `colado`. Without SHOPIFY_API_SECRET configured
when migrating, every loja is `colado` (nothing to tell them apart by).
"""

from django.conf import settings
from django.db import migrations, models

import chegouhub.stores.fields


def origin_from_secret(apps, schema_editor):
    secret = getattr(settings, "SHOPIFY_API_SECRET", "")
    if not secret:
        return
    Loja = apps.get_model("stores", "Loja")
    installed = []
    for pk in Loja.objects.values_list("pk", flat=True).iterator():
        try:
            webhook_secret = Loja.objects.only("webhook_secret").get(pk=pk).webhook_secret
        except ValueError:  # not decryptable with this key: left as pasted
            continue
        if webhook_secret == secret:
            installed.append(pk)
    Loja.objects.filter(pk__in=installed).update(origem_token="instalacao")


class Migration(migrations.Migration):
    dependencies = [("stores", "0005_deposito")]

    operations = [
        migrations.AddField(
            model_name="loja", name="origem_token",
            field=models.CharField(choices=[("instalacao", "Instalacao"), ("colado", "Colado")], default="colado",
                                   max_length=12),
        ),
        migrations.AddField(model_name="loja", name="token_expira_em",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="loja", name="refresh_token",
                            field=chegouhub.stores.fields.EncryptedTextField(blank=True, default="")),
        migrations.AddField(model_name="loja", name="refresh_token_expira_em",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="loja", name="reconectar_desde",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.RunPython(origin_from_secret, migrations.RunPython.noop),
    ]
