from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "chegouhub.realtime"
    label = "realtime"

    def ready(self) -> None:
        # Accounts announces the end of a user's access; the sockets are this app's to close.
        from chegouhub.accounts.services import access_revoked

        from .revocation import close_user_sockets

        access_revoked.connect(close_user_sockets, dispatch_uid="realtime.close_user_sockets")
