"""ASGI middleware every Weimin process installs: an ``X-Request-ID`` on every response, and a
problem+json 500 (never a stack trace) for anything unexpected."""

from __future__ import annotations

import json
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.tracing import current_traceparent, valid_traceparent

REQUEST_ID_HEADER = b"x-request-id"
log = logging.getLogger("weimin.errors")

_INTERNAL_ERROR = json.dumps(
    {
        "type": "urn:weimin:problem:internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "An unexpected error occurred; it has been logged.",
    }
).encode()


class RequestIdMiddleware:
    """Keeps the caller's X-Request-ID (a sane one) or makes one, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        traceparent: str | None = None
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                request_id = value
            elif name == b"traceparent":
                traceparent = valid_traceparent(value.decode("latin-1"))
        current_traceparent.set(traceparent)
        if not request_id or len(request_id) > 128 or not request_id.isascii():
            request_id = uuid.uuid4().hex.encode()
            scope["headers"] = [*scope.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error on %s %s (request %s)",
                scope.get("method"),
                scope.get("path"),
                request_id.decode(),
            )
            if started:
                raise
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": _INTERNAL_ERROR})
