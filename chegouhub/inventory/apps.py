from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "chegouhub.inventory"
    label = "inventory"

    def ready(self) -> None:
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)
