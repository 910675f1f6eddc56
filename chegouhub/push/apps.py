from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "chegouhub.push"
    verbose_name = "Web Push notifications"

    def ready(self) -> None:
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)
