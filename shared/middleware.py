"""ASGI middleware every Weimin process installs: an ``X-Request-ID`` on every response, a
problem+json 500 (never a stack trace) for anything unexpected, and a 413 for a body over the limit."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings
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


# -- request body limits ----------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed (chunked) body passes its limit."""


def _too_large(scope: Scope, limit: int) -> bytes:
    return json.dumps(
        {
            "type": "urn:weimin:problem:body-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"{scope.get('method')} {scope.get('path')} accepts bodies of at most {limit} bytes",
            "instance": scope.get("path", ""),
            "max_bytes": limit,
        }
    ).encode()


async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
    body = _too_large(scope, limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses a request body over ``limit_for(scope)`` bytes with a 413 problem: before reading any
    of it when ``Content-Length`` says so, and for a chunked body at the first chunk past the limit
    (counted as it streams: the app never gets more; whatever it answers to the cut body is replaced).
    A sized body needs no counting: the server never hands the app more than Content-Length."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if chunked:  # Transfer-Encoding wins over Content-Length (RFC 9112 §6.3)
            await self._counting(scope, receive, send, limit)
        elif length is not None and length.isdigit() and int(length) > limit:
            await _send_too_large(scope, send, limit)
        else:
            await self.app(scope, receive, send)

    async def _counting(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _send_too_large(scope, send, limit)


def service_body_limit(settings: Settings) -> Callable[[Scope], int]:
    """A service's own limit (behind the gateway's stricter per-route ones, for direct callers):
    uploads (multipart) up to ``max_upload_bytes``, any other body up to ``max_document_bytes``."""
    documents, uploads = settings.max_document_bytes, settings.max_upload_bytes

    def limit_for(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-type":
                return uploads if value.lower().startswith(b"multipart/form-data") else documents
        return documents

    return limit_for
