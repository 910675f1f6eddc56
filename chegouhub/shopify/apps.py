from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "chegouhub.shopify"
    label = "shopify"

    def ready(self) -> None:
        from . import checks, schema  # noqa: F401  (the API version check; the OpenAPI view extensions)
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)

        # Retention beside the body retention, in the same worker (shopify sits above the event log).
        from chegouhub.realtime.retention import prune_expired_events

        from . import hooks
        from .services import prune_daily_counts

        hooks.register_background_pass("events_pruned", prune_expired_events, every_seconds=600)
        hooks.register_background_pass("daily_counts_pruned", prune_daily_counts, every_seconds=86400)
