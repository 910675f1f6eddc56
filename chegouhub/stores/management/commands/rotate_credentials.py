"""`python manage.py rotate_credentials [--dry-run]`: re-encrypt every stored Shopify credential
(every EncryptedTextField of every model) with the current key, so old keys can leave the
fallback lists (docs/deploy.md, "Rotating keys")."""

from __future__ import annotations

from django.core.management import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from chegouhub.stores.rotation import rotate_credentials


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the first configured key (after a key rotation)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted; write nothing")
        parser.add_argument("--batch-size", type=int, default=500, help="rows read per query")

    def handle(self, *args, **o):
        console = Console(file=self.stdout, width=120, highlight=False)
        tasks = {}
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                      transient=False) as progress:

            def show(report) -> None:
                if report.label not in tasks:
                    tasks[report.label] = progress.add_task(report.label, total=report.total)
                done = report.rotated + report.current + len(report.unreadable)
                progress.update(tasks[report.label], completed=done, total=report.total)

            reports = rotate_credentials(dry_run=o["dry_run"], batch_size=max(1, o["batch_size"]), on_progress=show)
        table = Table("campo", "valores", "recriptografados" + (" (simulado)" if o["dry_run"] else ""),
                      "já na chave atual", "ilegíveis")
        for r in reports:
            table.add_row(r.label, str(r.total), str(r.rotated), str(r.current), str(len(r.unreadable)))
        console.print(table)
        unreadable = [f"{r.label} ids {', '.join(map(str, r.unreadable[:20]))}" for r in reports if r.unreadable]
        if unreadable:
            raise CommandError("Valores que nenhuma chave configurada abre (ficaram como estavam; inclua a chave "
                               "antiga em FIELD_ENCRYPTION_KEY_FALLBACKS ou DJANGO_SECRET_KEY_FALLBACKS): "
                               + "; ".join(unreadable))
