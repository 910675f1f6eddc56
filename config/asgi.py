"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from chegouhub.realtime.routing import websocket_application  # noqa: E402

from chegouhub.common.body_limit import BodyLimitMiddleware  # noqa: E402
from chegouhub.shopify.lean import LeanWebhookRoute  # noqa: E402

application = ProtocolTypeRouter({
    "http": BodyLimitMiddleware(LeanWebhookRoute(django_asgi_app)),
    "websocket": websocket_application,
})

from chegouhub.common.gc import tune_for_server  # noqa: E402

tune_for_server()
