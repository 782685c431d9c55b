"""Errors as RFC 9457 problem details (``application/problem+json``) in every Weimin process.

Domain code raises a ``WeiminError`` subclass; one set of handlers renders it, as well as FastAPI's
validation errors and anything unexpected (a 500 with no stack trace in the body).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:weimin:problem:"


class WeiminError(Exception):
    """Base of every error a client may see; ``slug`` makes the stable problem ``type``."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, slug: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if slug:
            self.slug = slug
        self.extra = extra

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug


class InvalidInput(WeiminError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class Unauthorized(WeiminError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(WeiminError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(WeiminError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(WeiminError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(WeiminError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class ServiceUnavailable(WeiminError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem(
    status: int, title: str, detail: str, slug: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Declared on routes (``responses=PROBLEM_RESPONSES``) so the OpenAPI tells clients what errors look like.
PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad request",
        401: "No or invalid token",
        403: "Outside the caller's role or jurisdiction",
        404: "Not found",
        409: "Conflicts with the case's current state",
        412: "Stale If-Match",
        422: "Invalid input",
    }
    return {
        s: {
            "description": descriptions.get(s, "Error"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for s in statuses
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WeiminError)
    async def _weimin_error(request: Request, exc: WeiminError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.slug, request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(422, "Invalid input", detail, "invalid-input", request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {
            400: "malformed-body",  # FastAPI: "There was an error parsing the body" (not JSON, not UTF-8)
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthorized",
        }.get(exc.status_code, "http-error")
        return problem(exc.status_code, str(exc.detail), str(exc.detail), slug, request)

    from shared.idempotency import Replayed

    @app.exception_handler(Replayed)
    async def _replayed(_request: Request, exc: Replayed) -> JSONResponse:
        return exc.response

    from sqlalchemy.exc import IntegrityError

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # The safety net of a race: a unique key another request took a moment earlier (at a flush or
        # at the commit) is that request's win, a 409 for this one, never a 500. Acts on cases are
        # guarded updates (shared/transitions.py) and should not get here. Any other integrity error is
        # a bug and stays a 500. The message is never echoed: its parameters may be personal data.
        if not is_unique_violation(exc):
            raise exc
        return problem(
            409,
            Conflict.title,
            "Another request wrote the same thing at the same moment; read it again before retrying",
            "concurrent-write",
            request,
        )

    from sqlalchemy.exc import DBAPIError

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # Pooled connections are not pinged before each use (a round trip per request): after the
        # database restarts, the first use of a dead connection fails, the pool drops all of them, and
        # the caller is told to retry (nothing was written) instead of seeing a 500.
        if not exc.connection_invalidated:
            raise exc
        answer = problem(
            503,
            ServiceUnavailable.title,
            "The database connection was lost; nothing was written. Retry in a moment",
            "database-unavailable",
            request,
        )
        answer.headers["Retry-After"] = "1"
        return answer

    # Anything unexpected becomes a problem+json 500 in RequestIdMiddleware, which wraps the whole app.


def is_unique_violation(exc: Exception) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE / PRIMARY KEY constraint)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    text = str(orig or "")
    return text.startswith("UNIQUE constraint failed") or "PRIMARY KEY must be unique" in text
