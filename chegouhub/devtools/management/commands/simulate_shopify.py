"""`python manage.py simulate_shopify --loja-id N --orders 100 --rate 20 --duplicates 0.1`:
signed Shopify webhooks for a loja's orders, at least once, optionally duplicated, reordered, late."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from chegouhub.devtools.simulator import SimulationConfig, simulate
from chegouhub.inventory.models import Produto
from chegouhub.stores.models import Loja


class Command(BaseCommand):
    help = "Send simulated, signed Shopify order/refund webhooks for a loja."

    def add_arguments(self, parser):
        parser.add_argument("--loja-id", type=int, required=True)
        parser.add_argument("--orders", type=int, default=100)
        parser.add_argument("--rate", type=float, default=20.0, help="deliveries per second (0: as fast as possible)")
        parser.add_argument("--duplicates", type=float, default=0.0, help="share of deliveries sent twice")
        parser.add_argument("--reorder", type=float, default=0.0, help="share of deliveries moved out of order")
        parser.add_argument("--delay", type=float, default=0.0, help="each delivery late by up to this many seconds")
        parser.add_argument("--cancel-rate", type=float, default=0.1)
        parser.add_argument("--refund-rate", type=float, default=0.15)
        parser.add_argument("--unmapped-rate", type=float, default=0.1)
        parser.add_argument("--no-sku-rate", type=float, default=0.05)
        parser.add_argument("--concurrency", type=int, default=10)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--target", help="base URL of the service or full webhook address "
                                             "(default http://127.0.0.1:8000)")
        parser.add_argument("--fake-url", help="fake Shopify URL: deliver to the addresses subscribed there and "
                                               "record the orders there too")
        parser.add_argument("--compliance", choices=["customers/data_request", "customers/redact", "shop/redact"],
                            help="send one signed compliance webhook instead of orders (--compliance-orders ids)")
        parser.add_argument("--compliance-orders", default="", help="comma-separated order ids for --compliance")
        parser.add_argument("--check", action="store_true",
                            help="afterwards, compare each produto's stock with the ledger's model")

    def handle(self, *args, **o):
        console = Console(file=self.stdout, width=140, highlight=False)
        loja = Loja.objects.filter(pk=o["loja_id"]).first()
        if loja is None:
            raise CommandError(f"Loja {o['loja_id']} não encontrada.")
        if not loja.webhook_secret:
            raise CommandError("A loja não tem webhook_secret: o receptor recusaria as entregas.")
        if o["compliance"]:
            return self._compliance(loja, o)
        before = dict(Produto.objects.filter(deposito_id=loja.deposito_id).values_list("pk", "estoque_atual"))
        config = SimulationConfig(
            orders=o["orders"], rate=o["rate"], duplicates=o["duplicates"], reorder=o["reorder"], delay=o["delay"],
            cancel_rate=o["cancel_rate"], refund_rate=o["refund_rate"], unmapped_rate=o["unmapped_rate"],
            no_sku_rate=o["no_sku_rate"], concurrency=o["concurrency"], seed=o["seed"],
        )
        console.print(f"Simulando {config.orders} pedido(s) para {loja.shop_domain} a {config.rate:g}/s "
                      f"(duplicatas {config.duplicates:.0%}, fora de ordem {config.reorder:.0%}, "
                      f"atraso até {config.delay:g}s)")
        try:
            result = simulate(loja=loja, config=config, target=o["target"], fake_url=o["fake_url"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report = result.report
        table = Table(title="Entregas")
        for column in ("entregas", "requisições", "desistências", "HTTP", "resultado", "segundos"):
            table.add_column(column)
        table.add_row(str(report.deliveries), str(report.requests), str(report.gave_up),
                      ", ".join(f"{k}: {v}" for k, v in sorted(report.by_status.items())),
                      ", ".join(f"{k}: {v}" for k, v in sorted(report.by_result.items())), f"{report.seconds:.1f}")
        console.print(table)
        if o["check"]:
            after = dict(Produto.objects.filter(deposito_id=loja.deposito_id).values_list("pk", "estoque_atual"))
            wrong = {pk: (before.get(pk, 0) + result.expected.get(pk, 0), after.get(pk))
                     for pk in after if after.get(pk) != before.get(pk, 0) + result.expected.get(pk, 0)}
            if wrong:
                raise CommandError(f"Estoque diverge do modelo do ledger em {len(wrong)} produto(s): {wrong}")
            console.print("Estoque confere com o modelo do ledger.")
        if report.gave_up:
            raise CommandError(f"{report.gave_up} entrega(s) não foram aceitas após as tentativas.")

    def _compliance(self, loja, o) -> None:
        from chegouhub.devtools.compliance import send_compliance_webhook

        orders = [int(x) for x in o["compliance_orders"].split(",") if x.strip()]
        r = send_compliance_webhook(loja=loja, topic=o["compliance"], target=o["target"] or "http://127.0.0.1:8000",
                                    orders=orders)
        self.stdout.write(f"{o['compliance']}: HTTP {r.status_code} {r.text[:200]}")
        if r.status_code != 200:
            raise CommandError(f"{o['compliance']} não foi aceito ({r.status_code}).")
