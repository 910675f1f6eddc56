from django.apps import AppConfig


class StockSyncConfig(AppConfig):
    name = "chegouhub.stocksync"
    verbose_name = "Shared stock and pushes to Shopify"

    def ready(self) -> None:
        from . import signals  # noqa: F401 (connects the loja hooks)
