"""The retry worker: deliveries whose processing failed are processed again with backoff.

    python manage.py process_webhooks                 # loop forever (SIGTERM/SIGINT stop it cleanly)
    python manage.py process_webhooks --once          # one pass over what is due, then exit
    python manage.py process_webhooks --replay 42     # an operator's replay of a dead/failed delivery

Several of these may run at once, on one host or many: a delivery is claimed with a conditional
UPDATE (`claim_due_deliveries`), so two workers never take the same one, and one that dies
mid-attempt leaves a lease that expires and lets another worker take it over. A database outage
does not kill the loop: it waits and tries again.

Expired rejection counters (WEBHOOK_REJECTION_RETENTION_DAYS) are purged at the first pass and
hourly. Passes registered by other apps (chegouhub/shopify/hooks.py) run too: the privacy
requests of Shopify's compliance webhooks and the purge of expired raw bodies
(WEBHOOK_BODY_RETENTION_DAYS, chegouhub/privacy). Each pass also sends the pending outbound alerts (Slack/Discord outbox, chegouhub/notify) unless
--no-alerts is given, so one worker process type runs everything in the background.
"""

from __future__ import annotations

import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from chegouhub.common.logging import webhook_log
from chegouhub.shopify import hooks, metrics
from chegouhub.shopify.services import claim_due_deliveries, purge_rejections, replay_delivery, retry_delivery

PURGE_EVERY_SECONDS = 3600  # expired rejection counters are purged at the first pass and hourly


def run_once(*, batch: int = 50, lease_seconds: int = 60) -> dict[str, int]:
    """Claim what is due and retry each claimed delivery; returns {status: count}."""
    counts: dict[str, int] = {}
    for delivery_id in claim_due_deliveries(limit=batch, lease_seconds=lease_seconds):
        try:
            status = retry_delivery(delivery_id)
        except DatabaseError:
            raise  # the loop waits; the claim's lease expires and the delivery is taken again
        except Exception as exc:  # never let one delivery stop the worker; its lease expires
            webhook_log.error("retry worker: unexpected error", extra={"delivery_id": delivery_id,
                                                                       "error_type": type(exc).__name__})
            status = "error"
        counts[status] = counts.get(status, 0) + 1
        metrics.WEBHOOK_RETRIES.labels(status=status).inc()
        webhook_log.info("webhook retried", extra={"delivery_id": delivery_id, "status": status})
    return counts


def serve_metrics(port: int) -> None:
    """/metrics of the worker (retries, outbound alerts, and the database gauges) on its own port."""
    from prometheus_client import start_http_server

    from chegouhub.common.metrics import scrape_registry

    from django.db import connections

    registry = scrape_registry()

    class _ClosingRegistry:
        def collect(self):  # each scrape runs in its own thread: close its database connection after
            try:
                yield from registry.collect()
            finally:
                connections.close_all()

    start_http_server(port, registry=_ClosingRegistry())


def run_background_passes(last_run: dict[str, float]) -> dict[str, int]:
    """The passes other apps registered (chegouhub/shopify/hooks.py: privacy requests, body
    retention), each when due; one failing pass never stops the others (a database error does)."""
    counts: dict[str, int] = {}
    for bg in hooks.BACKGROUND_PASSES:
        ran = last_run.get(bg.name)
        if ran is not None and time.monotonic() - ran < bg.every_seconds:
            continue
        last_run[bg.name] = time.monotonic()
        try:
            counts.update(bg.run())
        except DatabaseError:
            raise
        except Exception as exc:
            webhook_log.error("background pass failed", extra={"pass": bg.name, "error_type": type(exc).__name__})
    return counts


def send_alerts() -> dict[str, int]:
    from chegouhub.notify.services import deliver

    return deliver()


def _refresh_connections() -> None:
    """Drop broken or expired connections between passes (not inside a caller's transaction)."""
    if not connection.in_atomic_block:
        close_old_connections()


class Command(BaseCommand):
    help = "Retry failed Shopify webhook deliveries with backoff (safe to run as several processes)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass over the due deliveries, then exit.")
        parser.add_argument("--replay", type=int, metavar="ID", help="Replay one dead or failed delivery now.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between passes (default 2).")
        parser.add_argument("--batch", type=int, default=50, help="Deliveries claimed per pass (default 50).")
        parser.add_argument("--lease", type=int, default=60,
                            help="Seconds a claim holds before another worker may take it over (default 60).")
        parser.add_argument("--no-alerts", action="store_true",
                            help="Do not send the pending Slack/Discord alerts in this worker.")
        parser.add_argument("--metrics-port", type=int, default=0,
                            help="Serve this worker's Prometheus metrics on this port (0: off).")

    def handle(self, *args, **opts):
        if opts["replay"] is not None:
            return self._replay(opts["replay"])
        if opts["metrics_port"]:
            serve_metrics(opts["metrics_port"])
        stop = threading.Event()
        if not opts["once"] and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        purged_at: float | None = None
        passes_run: dict[str, float] = {}
        while not stop.is_set():
            _refresh_connections()
            try:
                counts = run_once(batch=opts["batch"], lease_seconds=opts["lease"])
                if purged_at is None or time.monotonic() - purged_at > PURGE_EVERY_SECONDS:
                    purged_at = time.monotonic()
                    if purged := purge_rejections():
                        counts["rejection_counters_purged"] = purged
                counts.update(run_background_passes(passes_run))
                if not opts["no_alerts"]:
                    counts.update({f"alert_{k}": v for k, v in send_alerts().items()})
            except DatabaseError as exc:
                if opts["once"]:
                    raise CommandError(f"database unavailable: {type(exc).__name__}") from exc
                webhook_log.warning("retry worker: database unavailable; waiting",
                                    extra={"error_type": type(exc).__name__})
                _refresh_connections()
                stop.wait(max(opts["interval"], 1.0))
                continue
            if counts:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            if opts["once"]:
                return
            # A full batch means more is probably due: go again without sleeping.
            if sum(counts.values()) < opts["batch"]:
                stop.wait(opts["interval"])

    def _replay(self, delivery_id: int) -> None:
        from chegouhub.shopify.models import WebhookDelivery

        if not WebhookDelivery.objects.filter(pk=delivery_id).exists():
            raise CommandError(f"delivery {delivery_id} does not exist")
        try:
            status = replay_delivery(delivery_id)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"delivery {delivery_id}: {status}")
        if status != "processed" and status != "ignored":
            raise CommandError(f"delivery {delivery_id} is {status} after the replay")
