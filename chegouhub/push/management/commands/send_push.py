"""The Web Push worker: event log -> outbox -> push services, with retries.

    python manage.py send_push            # loop (SIGTERM/SIGINT stop it cleanly)
    python manage.py send_push --once     # match what is new, send what is due, exit

Safe as several processes: matching holds the cursor row's lock, sending claims rows with a lease.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from chegouhub.push import vapid
from chegouhub.push.services import run_pass


class Command(BaseCommand):
    help = "Send Web Push notifications for new events (safe as several processes)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes (default 1)")

    def handle(self, *args, once: bool, interval: float, **opts):
        if not vapid.configured():
            raise CommandError("VAPID_PRIVATE_KEY is not set: python manage.py generate_vapid_keys")
        vapid.public_key()  # a wrong key fails here, loudly, not at the first push
        stop = threading.Event()
        if not once and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set():
            if not connection.in_atomic_block:
                close_old_connections()
            try:
                counts = run_pass()
            except DatabaseError:
                if once:
                    raise
                stop.wait(max(interval, 1.0))
                continue
            if counts:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            if once:
                return
            stop.wait(interval)
