"""`python manage.py push_stock [--once]`: bring every syncing loja's Shopify quantities to the
depósito's stock (CONTRACT 10). Safe as several processes: work is claimed with a lease."""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management import BaseCommand

from chegouhub.stocksync import pusher


class Command(BaseCommand):
    help = "Push the depósitos' stock to the syncing lojas' Shopify stores (inventorySetQuantities)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="push what is due now, then exit")
        parser.add_argument("--interval", type=float, default=settings.STOCK_PUSH_POLL_SECONDS,
                            help="seconds between looks when nothing is due")

    def handle(self, *args, **o):
        if o["once"]:  # no coalescing pause: everything due goes out now
            result = pusher.Pusher(min_interval=0.0)
            result.drain_sync()
        else:
            result = asyncio.run(self._run(interval=o["interval"]))
        s = result.stats
        self.stdout.write(f"push_stock: {s['confirmed']} quantidades confirmadas em {s['calls']} chamadas, "
                          f"{s['skipped']} já certas, {s['stale']} desatualizadas, {s['errors']} erros.")

    async def _run(self, *, interval: float):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write("push_stock: enviando estoque às lojas sincronizadas (Ctrl+C para parar).")
        self.stdout.flush()
        return await pusher.run(stop=stop, interval=interval)
