from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "chegouhub.realtime"
    label = "realtime"

    def ready(self) -> None:
        from chegouhub.common.health import register_readiness_check

        from . import schema  # noqa: F401  (registers the OpenAPI view extensions)
        from .status import channel_layer_available

        register_readiness_check("channel_layer", channel_layer_available)
