from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "chegouhub.stores"
    label = "stores"

    def ready(self) -> None:
        from . import signals  # noqa: F401
