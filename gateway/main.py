"""The gateway app: the one public entry of the network. Run it as ``uvicorn gateway.main:app``.

It answers tokens, ``/me``, ``/healthz`` and the merged OpenAPI itself and forwards every other
``/api/v1/...`` call to the service that owns it (``gateway.proxy``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from gateway import auth_routes, health, openapi
from gateway.proxy import Forwarder
from shared import migrations
from shared.db import make_engine
from shared.errors import install_error_handlers
from shared.middleware import RequestIdMiddleware
from shared.service_app import configure_logging
from shared.settings import get_settings


def create_app() -> FastAPI:
    configure_logging()
    # httpx logs every request at INFO: on the forwarding path that is pure cost.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    forwarder = Forwarder()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        if settings.auto_migrate:
            # Alembic is synchronous: it runs in a worker thread, the loop stays free.
            await anyio.to_thread.run_sync(migrations.upgrade, "gateway", settings)
        engine = make_engine("gateway", settings)
        try:
            await forwarder.open(settings)
            app.state.settings, app.state.engine, app.state.forwarder = settings, engine, forwarder
            app.state.openapi = openapi.MergedOpenAPI(openapi.gateway_document(app))
            try:
                yield
            finally:
                await forwarder.aclose()
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Weimin (为民) gateway",
        version="0.1.0",
        lifespan=lifespan,
        # The merged document replaces FastAPI's own; see gateway.openapi.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(auth_routes.router)
    app.include_router(health.router)
    app.include_router(openapi.router)
    app.mount("/docs/assets", StaticFiles(directory=openapi.SWAGGER_ASSETS), name="docs-assets")
    # Last, so the gateway's own /api/v1 routes match first; a bare ASGI app, no FastAPI per-request work.
    app.router.routes.append(Route("/api/v1/{path:path}", forwarder, include_in_schema=False))
    return app


app = create_app()
