"""WebSocket routes, behind the origin check and session authentication (auth.py)."""

from django.urls import re_path

from channels.routing import URLRouter

from .auth import websocket_auth_stack
from .consumers import EstoqueConsumer, NotificationsConsumer


async def _no_such_socket(scope, receive, send):
    """Any other path: refused at the handshake (the server answers 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


websocket_urlpatterns: list = [
    re_path(r"^ws/estoque/?$", EstoqueConsumer.as_asgi()),
    re_path(r"^ws/notifications/?$", NotificationsConsumer.as_asgi()),
    re_path(r"", _no_such_socket),
]
websocket_application = websocket_auth_stack(URLRouter(websocket_urlpatterns))
