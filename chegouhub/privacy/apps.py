from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "chegouhub.privacy"
    label = "privacy"

    def ready(self) -> None:
        # shopify knows nothing of privacy (layering): privacy plugs its topic handlers and its
        # background passes into the receiver and the webhook worker.
        from chegouhub.shopify import hooks
        from chegouhub.shopify.services import TOPIC_HANDLERS

        from . import services

        TOPIC_HANDLERS.update(services.TOPIC_HANDLERS)
        hooks.register_background_pass("privacy_requests", services.run_pending_requests)
        hooks.register_background_pass("bodies_purged", services.purge_expired_bodies, every_seconds=3600)
        hooks.register_background_pass("late_copies_redacted", services.redact_late_copies, every_seconds=600)
