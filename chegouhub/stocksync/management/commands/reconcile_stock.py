"""`python manage.py reconcile_stock [--loja-id N]`: find and correct quantities that drifted on
Shopify's side (CONTRACT 10); each divergence is recorded, and `push_stock` corrects it."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError

from chegouhub.stocksync.reconcile import reconcile_stock
from chegouhub.stores.models import Loja


class Command(BaseCommand):
    help = "Compare Shopify's available quantities with the depósitos' stock, record and queue corrections."

    def add_arguments(self, parser):
        parser.add_argument("--loja-id", type=int, help="only this loja (default: every syncing loja)")

    def handle(self, *args, **o):
        if o["loja_id"] is not None and not Loja.objects.filter(pk=o["loja_id"]).exists():
            raise CommandError(f"Loja {o['loja_id']} não encontrada.")
        results = reconcile_stock(loja_id=o["loja_id"])
        failed = False
        for r in results:
            if r.erro:
                failed = True
                self.stderr.write(f"loja {r.loja_id}: {r.erro}")
            else:
                self.stdout.write(f"loja {r.loja_id}: {r.lidas} quantidades lidas, {r.divergencias} divergências "
                                  "registradas e enfileiradas para correção.")
        if not results:
            self.stdout.write("Nenhuma loja sincronizando estoque.")
        if failed:
            raise CommandError("Algumas lojas não puderam ser lidas.")
