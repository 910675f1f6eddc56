"""`python manage.py import_catalog --loja-id N [--dry-run]`: import a loja's Shopify catalog with a
progress bar. `--worker` (and `--once`) run the imports queued by the API and the install flow."""

from __future__ import annotations

import signal
import threading

from django.core.management import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chegouhub.catalog import services
from chegouhub.catalog.models import ImportStatus
from chegouhub.stores.models import Loja


class Command(BaseCommand):
    help = "Import a loja's Shopify catalog (products and variants), or run the import worker."

    def add_arguments(self, parser):
        parser.add_argument("--loja-id", type=int, help="import this loja now, in the foreground")
        parser.add_argument("--dry-run", action="store_true", help="read Shopify and say what would change; write nothing")
        parser.add_argument("--worker", action="store_true", help="run queued imports until stopped")
        parser.add_argument("--once", action="store_true", help="run the queued imports, then exit")
        parser.add_argument("--interval", type=float, default=2.0, help="worker: seconds between looks at the queue")
        parser.add_argument("--bulk-threshold", type=int, help="variants above which a bulk operation is used "
                                                              "(default CATALOG_BULK_THRESHOLD)")

    def handle(self, *args, **o):
        console = Console(file=self.stdout, width=120, highlight=False)
        if o["worker"] or o["once"]:
            return self._worker(console, once=o["once"], interval=o["interval"])
        if not o["loja_id"]:
            raise CommandError("Informe --loja-id N (ou --worker / --once).")
        loja = Loja.objects.filter(pk=o["loja_id"]).first()
        if loja is None:
            raise CommandError(f"Loja {o['loja_id']} não encontrada.")
        if not loja.access_token:
            raise CommandError("A loja não tem token de acesso da Shopify; conecte-a antes.")
        with self._progress(console) as progress:
            task = progress.add_task(f"Catálogo de {loja.shop_domain}", total=None)

            def show(state) -> None:
                progress.update(task, total=state.total or None, completed=state.processados)

            if o["dry_run"]:
                result = services.dry_run_import(loja, on_progress=show, bulk_threshold=o["bulk_threshold"])
            else:
                importacao, _ = services.queue_import(loja=loja)
                if not services.claim_import(importacao.pk):
                    raise CommandError(f"A importação {importacao.pk} desta loja já está em andamento em outro processo.")
                importacao.refresh_from_db()
                result = services.run_import(importacao, on_progress=show, bulk_threshold=o["bulk_threshold"])
        self._summary(console, result, dry_run=o["dry_run"])
        error = result.erro if o["dry_run"] else (result.erros[-1] if result.status == ImportStatus.FAILED else None)
        if error:
            raise CommandError(error)

    def _progress(self, console: Console) -> Progress:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("variantes"),
                        TimeElapsedColumn(), console=console, transient=False)

    def _summary(self, console: Console, r, *, dry_run: bool) -> None:
        table = Table(title="Simulação (nada foi gravado)" if dry_run else f"Importação {r.id}")
        for column in ("modo", "total", "processados", "criados", "vinculados", "sem SKU"):
            table.add_column(column)
        table.add_row(str(r.modo), str(r.total), str(r.processados), str(r.criados), str(r.vinculados), str(r.sem_sku))
        console.print(table)
        if not dry_run:
            console.print(f"Shopify: {r.requisicoes} requisições, custo {r.custo} pontos, {r.limitadas} limitadas.")

    def _worker(self, console: Console, *, once: bool, interval: float) -> None:
        stop = threading.Event()
        if not once:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        console.print("Worker de importação de catálogo iniciado." if not once else "Importações na fila:")
        while True:
            for importacao in services.run_pending_imports():
                console.print(f"Importação {importacao.pk} (loja {importacao.loja_id}): {importacao.status}, "
                              f"{importacao.processados}/{importacao.total} variantes, {importacao.criados} criados, "
                              f"{importacao.vinculados} vinculados, {importacao.sem_sku} sem SKU")
            if once or stop.wait(interval):
                return
