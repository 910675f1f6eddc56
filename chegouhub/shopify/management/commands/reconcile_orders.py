"""Reconcile orders and webhook subscriptions with Shopify (chegouhub/shopify/reconcile.py).

    python manage.py reconcile_orders                         # every active loja, since each one's cursor
    python manage.py reconcile_orders --loja-id 3 --since 2026-11-28T10:00:00Z
    python manage.py reconcile_orders --every 900             # periodic (SIGTERM stops it between passes)
"""

from __future__ import annotations

import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection
from django.utils.dateparse import parse_datetime

from chegouhub.common.logging import webhook_log
from chegouhub.shopify.reconcile import reconcile


class Command(BaseCommand):
    help = "Apply paid/cancelled/refunded orders that no webhook brought; re-subscribe removed webhooks."

    def add_arguments(self, parser):
        parser.add_argument("--loja-id", type=int, help="Only this loja.")
        parser.add_argument("--since", help="ISO 8601; default: where the last run of each loja got to.")
        parser.add_argument("--every", type=float, default=0, metavar="SECONDS",
                            help="Run periodically, every SECONDS (0: once).")
        parser.add_argument("--no-subscriptions", action="store_true",
                            help="Do not check (and re-create) the webhook subscriptions.")
        parser.add_argument("--json", action="store_true", help="Print each pass's result as JSON.")

    def handle(self, *args, **opts):
        since = None
        if opts["since"]:
            since = parse_datetime(opts["since"])
            if since is None:
                raise CommandError(f"--since is not an ISO 8601 date-time: {opts['since']!r}")
        stop = threading.Event()
        if opts["every"] and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        first = True
        while not stop.is_set():
            if not connection.in_atomic_block:
                close_old_connections()
            try:
                results = reconcile(loja_id=opts["loja_id"], since=since if first else None,
                                    subscriptions=not opts["no_subscriptions"])
            except DatabaseError as exc:
                if not opts["every"]:
                    raise CommandError(f"database unavailable: {type(exc).__name__}") from exc
                webhook_log.warning("reconciliation: database unavailable", extra={"error_type": type(exc).__name__})
                stop.wait(min(opts["every"], 30))
                continue
            first = False
            self._report(results, opts["json"])
            if not opts["every"]:
                if any(r.erro for r in results):
                    raise CommandError("reconciliation finished with errors (see above)")
                return
            stop.wait(opts["every"])

    def _report(self, results, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps([r.as_dict() for r in results], ensure_ascii=False))
            return
        for r in results:
            line = (f"loja {r.loja_id} ({r.shop_domain}): {r.orders} pedidos desde {r.since}, "
                    f"{len(r.corrected)} corrigidos")
            if r.subscriptions:
                line += f"; webhooks {r.subscriptions}" + (" (reassinados)" if r.resubscribed else "")
            if r.erro:
                line += f"; ERRO: {r.erro}"
            self.stdout.write(line)
