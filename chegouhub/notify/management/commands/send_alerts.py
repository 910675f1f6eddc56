"""Send the pending outbound alerts (Slack/Discord) with retries.

    python manage.py send_alerts           # loop (the `process_webhooks` worker also does this each pass)
    python manage.py send_alerts --once
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection

from chegouhub.notify.services import deliver


class Command(BaseCommand):
    help = "Send pending Slack/Discord alerts from the outbox, with retries (safe as several processes)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)

    def handle(self, *args, **opts):
        stop = threading.Event()
        if not opts["once"] and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set():
            if not connection.in_atomic_block:
                close_old_connections()
            try:
                counts = deliver()
            except DatabaseError:
                if opts["once"]:
                    raise
                stop.wait(max(opts["interval"], 1.0))
                continue
            if counts:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            if opts["once"]:
                return
            stop.wait(opts["interval"])
