"""Request bodies over their route's limit are refused with 413 before they are read (CONTRACT 8).

An ASGI middleware in front of everything HTTP (the lean webhook route and Django): a declared
`Content-Length` over the limit is answered at once; a chunked body is counted as it arrives and
refused the moment it passes the limit, so no route ever spools more than its limit to memory or
disk (Django's ASGI handler reads the whole body to a temporary file before any view runs).
"""

from __future__ import annotations

import json

from django.conf import settings


def body_limit(path: str) -> int:
    """The limit of a route: the webhook's own (Shopify's bodies), and one for the rest of the API."""
    if path == settings.WEBHOOK_PATH:
        return settings.WEBHOOK_MAX_BODY_BYTES
    return settings.REQUEST_MAX_BODY_BYTES


def too_large(limit: int) -> dict:
    return {"erro": f"Corpo maior que o limite de {limit / 2**20:g} MiB."}


async def _refuse(send, limit: int) -> None:
    body = json.dumps(too_large(limit)).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        for name, value in scope["headers"]:
            if name.lower() == b"content-length":
                if not value.strip().isdigit() or int(value) > limit:
                    return await _refuse(send, limit)
        state = {"read": 0, "refused": False, "started": False}

        async def limited_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    # What the app sees is a client gone: it stops reading and answers nothing.
                    state["refused"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
