"""The gateway app: the one public entry of the network. Run it as ``uvicorn gateway.main:app``.

It answers tokens, ``/me``, ``/healthz``, its public keys (``/.well-known/jwks.json``) and the
merged OpenAPI itself and forwards every other ``/api/v1/...`` call to the service that owns it
(``gateway.proxy``). At start it makes sure its token signing key exists (``gateway.keys``: made on
first start outside production; production refuses to start without one).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import auth_routes, health, keys, openapi
from gateway.body_limits import gateway_body_limit
from gateway.proxy import Forwarder, is_forwarded
from gateway.throttle import LoginThrottle, TooManyAttempts
from shared import migrations
from shared.db import make_engine
from shared.errors import install_error_handlers, problem
from shared.middleware import BodyLimitMiddleware, RequestIdMiddleware
from shared.service_app import configure_logging
from shared.settings import get_settings


class GatewayApp(FastAPI):
    """The gateway's app. A call the forwarder answers (``/api/v1/<a service's prefix>/...``, the
    hot path) goes through the request id and body limit middleware straight to it, past FastAPI's
    per-request machinery (its telemetry hooks, error and exit-stack middleware, the router's walk
    over every route), which cost about a fifth of the gateway's CPU per forwarded call. Everything
    else (tokens, ``/me``, health, the OpenAPI, unknown paths) is the ordinary FastAPI app."""

    forward: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.forward is not None and is_forwarded(scope["path"]):
            await self.forward(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app() -> FastAPI:
    configure_logging()
    # httpx logs every request at INFO: on the forwarding path that is pure cost.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    forwarder = Forwarder()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        # Before anything else: a production gateway without its key must not start at all.
        await anyio.to_thread.run_sync(keys.ensure_keys, settings)
        if settings.auto_migrate:
            # Alembic is synchronous: it runs in a worker thread, the loop stays free.
            await anyio.to_thread.run_sync(migrations.upgrade, "gateway", settings)
        engine = make_engine("gateway", settings)
        throttle = LoginThrottle(settings)
        try:
            await forwarder.open(settings)
            app.state.settings, app.state.engine, app.state.forwarder = settings, engine, forwarder
            app.state.login_throttle = throttle
            app.state.openapi = openapi.MergedOpenAPI(openapi.gateway_document(app))
            try:
                yield
            finally:
                await forwarder.aclose()
        finally:
            await throttle.aclose()
            await engine.dispose()

    app = GatewayApp(
        title="Weimin (为民) gateway",
        version="0.1.0",
        lifespan=lifespan,
        # The merged document replaces FastAPI's own; see gateway.openapi.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)

    @app.exception_handler(TooManyAttempts)
    async def _too_many_attempts(request: Request, exc: TooManyAttempts) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, exc.slug, request, **exc.extra)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    # Bodies are checked per route before anything reads them; the request id wraps even that 413.
    app.add_middleware(BodyLimitMiddleware, limit_for=gateway_body_limit(get_settings()))
    app.add_middleware(RequestIdMiddleware)
    app.include_router(auth_routes.router)
    app.include_router(auth_routes.well_known)
    app.include_router(health.router)
    app.include_router(openapi.router)
    app.mount("/docs/assets", StaticFiles(directory=openapi.SWAGGER_ASSETS), name="docs-assets")
    # Last, so the gateway's own /api/v1 routes match first; a bare ASGI app, no FastAPI per-request work.
    app.router.routes.append(Route("/api/v1/{path:path}", forwarder, include_in_schema=False))
    # A service's call takes the same request id and body limit middleware straight to the forwarder.
    app.forward = RequestIdMiddleware(
        BodyLimitMiddleware(forwarder, limit_for=gateway_body_limit(get_settings()))
    )
    return app


app = create_app()
