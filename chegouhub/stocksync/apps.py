from django.apps import AppConfig


class StockSyncConfig(AppConfig):
    name = "chegouhub.stocksync"
    verbose_name = "Shared stock and pushes to Shopify"

    def ready(self) -> None:
        from . import signals  # noqa: F401 (connects the loja hooks)

        from django.db.models import Min

        from chegouhub.realtime.retention import register_event_reader

        from .models import CursorDeposito

        # The event log keeps what the pusher has not read for a syncing depósito (a depósito that
        # stops syncing starts again from the stream's end: services.queue_loja).
        register_event_reader("stocksync", lambda: CursorDeposito.objects.filter(
            deposito__lojas__sincronizar_estoque=True).aggregate(m=Min("ultimo_evento"))["m"])
