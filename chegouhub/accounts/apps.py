from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chegouhub.accounts"
    label = "accounts"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the OpenAPI view extensions)
        from . import signals  # noqa: F401
