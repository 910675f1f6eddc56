from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "chegouhub.inventory"
    label = "inventory"

    def ready(self) -> None:
        # Registered here until chegouhub/realtime/events.py lists it (its owner adds the line).
        from chegouhub.realtime.events import EVENT_SCHEMAS
        from chegouhub.realtime.models import Stream

        EVENT_SCHEMAS.setdefault("produto_atualizado", (Stream.ESTOQUE, frozenset(
            {"loja_id", "produto_id", "sku", "nome", "estoque_atual", "estoque_minimo"})))
