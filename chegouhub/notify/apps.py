from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "chegouhub.notify"
    verbose_name = "Outbound alerts (Slack, Discord)"

    def ready(self) -> None:
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)
