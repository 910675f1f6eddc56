from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "chegouhub.catalog"
    label = "catalog"

    def ready(self) -> None:
        # The catalog registers its own event type (the realtime app knows no catalog).
        from chegouhub.realtime.events import EVENT_SCHEMAS
        from chegouhub.realtime.models import Stream

        EVENT_SCHEMAS.setdefault(
            "catalogo_importado",
            (Stream.NOTIFICATIONS, frozenset({"loja_id", "importacao_id", "criados", "vinculados", "sem_sku"})),
        )
        # One per batch of an import while it runs (CONTRACT 9: progress on the notifications socket).
        EVENT_SCHEMAS.setdefault(
            "importacao_progresso",
            (Stream.NOTIFICATIONS, frozenset({"loja_id", "importacao_id", "total", "processados", "criados",
                                              "vinculados", "sem_sku"})),
        )
