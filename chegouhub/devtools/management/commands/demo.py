"""`make run`: migrate, seed the demo loja, serve the dashboard. Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.core.management import BaseCommand, call_command

from chegouhub.devtools.demo_data import DEMO_PASSWORD, DEMO_USERNAME, seed_demo


class Command(BaseCommand):
    help = "Run the local demo: server on SQLite + in-memory layer."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options):
        call_command("migrate", verbosity=0)
        setup = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo loja: {setup.loja.shop_domain}"))
        self.stdout.write(f"Login: {DEMO_USERNAME} / {DEMO_PASSWORD}")
        self.stdout.write(self.style.SUCCESS(f"Open http://{host}:{port}/"))
        env = dict(os.environ)
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port),
             "--ws-per-message-deflate", "false", "--no-access-log"],
            env=env,
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=10)
