"""Print a new VAPID key pair for VAPID_PRIVATE_KEY / VAPID_PUBLIC_KEY (raw, base64url)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chegouhub.push.vapid import generate_keys


class Command(BaseCommand):
    help = "Generate a VAPID key pair (P-256) for Web Push."

    def handle(self, *args, **opts):
        private, public = generate_keys()
        # Printed for the operator to put in the environment; nothing else stores or logs it.
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write("VAPID_SUBJECT=mailto:voce@exemplo.com.br")
