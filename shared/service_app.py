"""The one way a Weimin service app is assembled: lifespan, errors, request ids, health.

Each service's ``main.py`` names its tables, routers and subscription; the lifespan opens and
closes everything: the engine, the NATS link, the outbox relay and the consumer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from shared import migrations
from shared.db import dispose_engine, make_engine, reader
from shared.errors import install_error_handlers
from shared.events.consumer import EventConsumer, Subscription
from shared.events.nats_link import NatsLink
from shared.events.relay import OutboxRelay
from shared.middleware import BodyLimitMiddleware, RequestIdMiddleware, service_body_limit
from shared.openapi import complete_responses
from shared.personal_data import install_log_masking
from shared.settings import get_settings


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A safety net behind never logging personal data: any 身份证号 or mobile number that still reaches
    # a log record (an exception's text, a library's message) is masked, whichever handler writes it.
    install_log_masking()
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    # One line per outbound call (the gateway forwards and health-checks constantly) is noise and cost.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def create_service_app(
    name: str,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    subscription: Subscription | None = None,
    on_startup: Any = None,
) -> FastAPI:
    configure_logging()
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await anyio.to_thread.run_sync(migrations.upgrade, name, settings)
        engine = make_engine(name, settings)
        link = NatsLink(
            settings.nats_url,
            settings.nats_stream,
            name=f"weimin-{name}",
            stream_max_age_days=settings.stream_max_age_days,
        )
        relay = OutboxRelay(
            engine,
            link,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            retention_days=settings.outbox_retention_days,
        )

        @event.listens_for(Session, "after_commit")
        def _wake_relay(session: Session) -> None:
            if session.info.pop("outbox_written", False) and session.bind is engine.sync_engine:
                relay.notify()

        app.state.engine, app.state.nats, app.state.relay = engine, link, relay
        app.state.read_engine = reader(engine)
        link.start()
        relay.start()
        consumer = EventConsumer(engine, link, subscription) if subscription else None
        if consumer:
            consumer.start()
        if on_startup is not None:
            await on_startup(app)
        try:
            yield
        finally:
            event.remove(Session, "after_commit", _wake_relay)
            if consumer:
                await consumer.stop()
            await relay.stop()
            await link.close()
            await dispose_engine(engine)

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    # A caller that reaches the service directly meets a body limit too (the gateway's is stricter).
    app.add_middleware(BodyLimitMiddleware, limit_for=service_body_limit(settings))
    app.add_middleware(RequestIdMiddleware)
    for router in routers:
        app.include_router(router)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="200 while the service can serve; `checks` says which dependency is down",
        description="The database down is 503 (nothing can be served). NATS down is 200 with status "
        "`degraded`: reads and writes go on, events wait in the outbox (`outbox.pending`). "
        "`outbox.dead_letters` counts events parked because they can never be published.",
    )
    async def healthz() -> JSONResponse:
        checks = {"database": await _database_ok(app), "nats": bool(app.state.nats.is_connected)}
        body: dict[str, Any] = {
            "service": name,
            "status": "ok" if all(checks.values()) else "degraded",
            "checks": checks,
        }
        if checks["database"]:
            body["outbox"] = await app.state.relay.backlog()
        return JSONResponse(body, status_code=200 if checks["database"] else 503)

    complete_responses(app)
    return app


async def _database_ok(app: FastAPI) -> bool:
    try:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001
        return False
