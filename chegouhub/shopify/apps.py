from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "chegouhub.shopify"
    label = "shopify"

    def ready(self) -> None:
        from . import checks, schema  # noqa: F401  (the API version check; the OpenAPI view extensions)
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)
