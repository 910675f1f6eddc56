from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "chegouhub.push"
    verbose_name = "Web Push notifications"

    def ready(self) -> None:
        from chegouhub.common.metrics import register_database_families

        from .metrics import database_families

        register_database_families(database_families)

        from django.db.models import Min

        from chegouhub.realtime.retention import register_event_reader

        from .models import Inscricao, PushCursor

        # The event log keeps what the matcher has not read while anyone is subscribed
        # (chegouhub/realtime/retention.py); with nobody subscribed the matcher has nothing to do.
        register_event_reader("push", lambda: PushCursor.objects.aggregate(m=Min("last_event_id"))["m"]
                              if Inscricao.objects.exists() else None)
