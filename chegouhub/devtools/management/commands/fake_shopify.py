"""`python manage.py fake_shopify --port 9999`: the fake Shopify GraphQL Admin API, standalone.

Shops and tokens come from `--shop DOMAIN=TOKEN`, `--state file.json`, `--from-db` (every loja
in the database with its token), or later through the control endpoint (POST /_fake/shops).
"""

from __future__ import annotations

from django.core.management import BaseCommand

from chegouhub.devtools.fake_shopify.server import add_arguments, build_fake, serve
from chegouhub.stores.models import Loja


class Command(BaseCommand):
    help = "Run a fake Shopify GraphQL Admin API (webhook subscriptions, shop, orders) for demos and tests."

    def add_arguments(self, parser):
        add_arguments(parser)
        parser.add_argument("--from-db", action="store_true", help="register every loja of the database")

    def handle(self, *args, **options):
        extra = []
        if options["from_db"]:
            extra = [{"shop": loja.shop_domain, "token": loja.access_token}
                     for loja in Loja.objects.all() if loja.access_token]
        fake = build_fake(options, extra)
        host, port = options["host"], options["port"]
        self.stdout.write(self.style.SUCCESS(f"Fake Shopify em http://{host}:{port} com {len(fake.shops)} loja(s)."))
        self.stdout.write(f"SHOPIFY_ADMIN_URL_TEMPLATE=http://{host}:{port}/{{shop}}/admin/api/{{version}}/graphql.json")
        serve(fake, host=host, port=port)
