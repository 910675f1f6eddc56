"""`python manage.py configure_webhooks`: subscribe every loja's required webhooks on Shopify.

Bounded concurrency across lojas, each loja throttle-aware; a progress bar over lojas and a
summary table at the end; exit code 1 when any loja failed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chegouhub.shopify import subscriptions
from chegouhub.stores.models import Loja


class Command(BaseCommand):
    help = "Configure (or check, or clean up) the Shopify webhook subscriptions of the lojas."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="only the lojas of this username")
        parser.add_argument("--loja-id", type=int, action="append", dest="loja_ids", help="only this loja (repeatable)")
        parser.add_argument("--webhook-url", help="base domain of this service (default: WEBHOOK_BASE_DOMAIN)")
        parser.add_argument("--test-only", action="store_true",
                            help="only test connectivity and report what is missing; change nothing")
        parser.add_argument("--cleanup", action="store_true",
                            help="first remove this service's subscriptions at any other base domain")
        parser.add_argument("--cleanup-domain", action="append", default=[], metavar="URL",
                            help="first remove every subscription under this old base domain (repeatable)")
        parser.add_argument("--force", action="store_true",
                            help="replace subscriptions of required topics that point to a wrong address")
        parser.add_argument("--concurrency", type=int, default=subscriptions.DEFAULT_CONCURRENCY,
                            help="lojas handled at once (default %(default)s)")

    def handle(self, *args, **options):
        console = Console(file=self.stdout, width=150, highlight=False, soft_wrap=False)
        try:
            # The address Shopify will post to: an https:// public host name (CONTRACT section 8).
            base = subscriptions.public_base_domain(options["webhook_url"] or settings.WEBHOOK_BASE_DOMAIN)
            cleanup_domains = [subscriptions.normalize_base_domain(d) for d in options["cleanup_domain"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        lojas = self._lojas(options)
        if not lojas:
            console.print("Nenhuma loja ativa encontrada.")
            return
        address = subscriptions.webhook_address(base)
        mode = "teste (nada será alterado)" if options["test_only"] else "configuração"
        console.print(f"{len(lojas)} loja(s), {mode}; endereço: {address}")

        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("falhas: {task.fields[failed]}"), TimeElapsedColumn(), console=console,
                      transient=False) as progress:
            task = progress.add_task("lojas", total=len(lojas), failed=0)
            failed = 0

            def on_done(result):
                nonlocal failed
                failed += 0 if result.ok else 1
                progress.update(task, advance=1, failed=failed)

            common = {"lojas": lojas, "concurrency": options["concurrency"], "on_done": on_done}
            if options["test_only"]:
                # read-only: the shop query and the subscriptions; missing topics are reported, not failures
                summary = subscriptions.test_connectivity(base_domain=base, with_status=True, **common)
            else:
                summary = subscriptions.configure_webhooks(
                    base_domain=base, force=options["force"], cleanup_domains=cleanup_domains,
                    cleanup_stale=options["cleanup"], **common)

        console.print(self._table(summary, test_only=options["test_only"]))
        ok, bad = len(summary.succeeded), len(summary.failed)
        created = sum(len(r.criados) for r in summary.results)
        removed = sum(len(r.removidos) for r in summary.results)
        throttled = sum(r.limitado for r in summary.results)
        console.print(f"{len(summary.results)} loja(s): {ok} ok, {bad} com falha; {created} webhook(s) criado(s), "
                      f"{removed} removido(s); {throttled} resposta(s) de limite da Shopify; "
                      f"{summary.seconds:.1f}s.")
        if bad:
            raise CommandError(f"{bad} loja(s) falharam; veja a tabela acima.")

    def _lojas(self, options) -> list[Loja]:
        qs = Loja.objects.filter(ativo=True).order_by("pk")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"Usuário {options['user']!r} não encontrado.")
            qs = qs.filter(owner=user)
        if options["loja_ids"]:
            qs = qs.filter(pk__in=options["loja_ids"])
            missing = set(options["loja_ids"]) - set(qs.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"Loja(s) não encontrada(s) ou inativa(s): {sorted(missing)}")
        return list(qs)

    def _table(self, summary, *, test_only: bool) -> Table:
        table = Table(title="Resumo", show_lines=False)
        table.add_column("Loja", justify="right")
        table.add_column("Domínio")
        table.add_column("Resultado")
        if test_only:
            table.add_column("Latência")
            table.add_column("Assinaturas", justify="right")
        else:
            table.add_column("Criados", justify="right")
            table.add_column("Mantidos", justify="right")
            table.add_column("Removidos", justify="right")
        table.add_column("Ausentes")
        table.add_column("Limites", justify="right")
        table.add_column("Tempo", justify="right")
        table.add_column("Erro", overflow="fold")
        for r in sorted(summary.results, key=lambda r: (r.ok, r.loja_id)):
            cells = [str(r.loja_id), r.shop_domain, "[green]OK[/green]" if r.ok else "[red]FALHOU[/red]"]
            if test_only:
                cells += [f"{r.latencia_ms:.0f} ms" if r.latencia_ms is not None else "-", str(len(r.assinaturas))]
            else:
                cells += [str(len(r.criados)), str(len(r.mantidos)), str(len(r.removidos))]
            cells += [", ".join(r.topicos_ausentes) or "-", str(r.limitado), f"{r.duracao_ms / 1000:.1f}s",
                      r.erro or ""]
            table.add_row(*cells)
        return table
