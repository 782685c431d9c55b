"""ASGI middleware every Weimin process installs: an ``X-Request-ID`` on every response."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Keeps the caller's X-Request-ID (a sane one) or makes one, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                request_id = value
                break
        if not request_id or len(request_id) > 128 or not request_id.isascii():
            request_id = uuid.uuid4().hex.encode()
            scope["headers"] = [*scope.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
