"""A small real upstream for the gateway's tests, served by uvicorn on a free port in a thread.

One app per service name: it answers ``/healthz`` and ``/openapi.json`` like a Weimin service, a few
typed routes (so the merged OpenAPI has something to merge, with a schema name every service shares
but defines differently), and echoes everything else so a test can see exactly what arrived.
"""

import asyncio
import hashlib
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, create_model
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import PROBLEM_JSON
from tests.support import free_port

# (service, method, path) of every request that reached a test upstream, recorded as it arrives,
# before its body is read: a test can show that the gateway kept a request from an upstream.
ARRIVALS: list[tuple[str, str, str]] = []

UPSTREAM_PROBLEM = (
    b'{"type":"urn:weimin:problem:conflict","title":"Conflict","status":409,"detail":"upstream said no"}'
)


class Applicant(BaseModel):
    """Identical in every service: the merged document keeps one copy."""

    name: str
    phone: str


class RecordArrivals:
    """Notes each request in ``ARRIVALS`` when it arrives (pure ASGI: streams stay untouched)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ARRIVALS.append((self.service, scope["method"], scope["path"]))
        await self.app(scope, receive, send)


def create_upstream_app(service: str) -> FastAPI:
    app = FastAPI(title=f"{service} (test upstream)", description=f"The {service} test upstream")
    # Same schema name in every service, different content: the merge must rename all but the first.
    thing = create_model("Thing", **{f"{service}_field": (str, ...)}, applicant=(Applicant, ...))
    prefix = f"/api/v1/{service}"
    inflight = {"now": 0, "max": 0}
    streams = {"open": 0}
    app.add_middleware(RecordArrivals, service=service)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"service": service, "status": "ok"}

    if service == "catalogue":

        @app.get("/api/v1/orgs")
        async def list_orgs(level: str | None = None) -> dict[str, object]:
            return {
                "items": [
                    {
                        "code": "330102000000",
                        "name": "Test county",
                        "level": level or "county",
                        "parent_code": "330100000000",
                    }
                ],
                "next_cursor": None,
                "service": service,
            }

        @app.get("/api/v1/catalogue/items")
        async def list_items() -> dict[str, object]:
            return {"items": [], "next_cursor": None, "service": service}

    if service == "supervision":

        @app.get("/api/v1/cases/{case_id}")
        async def get_case(case_id: str) -> dict[str, str]:
            return {"case_id": case_id, "service": service}

    @app.post(f"{prefix}/things", status_code=201)
    async def create_thing(body: thing) -> thing:  # type: ignore[valid-type]
        return body

    @app.get(f"{prefix}/problem", include_in_schema=False)
    async def a_problem() -> Response:
        return Response(UPSTREAM_PROBLEM, status_code=409, media_type=PROBLEM_JSON)

    @app.get(f"{prefix}/slow", include_in_schema=False)
    async def slow(seconds: float = 1.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"service": service}

    @app.get(f"{prefix}/big", include_in_schema=False)
    async def big(size: int = 1_000_000) -> StreamingResponse:
        async def chunks():
            sent = 0
            while sent < size:
                n = min(64 * 1024, size - sent)
                yield bytes((sent + i) % 251 for i in range(n))
                sent += n

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.post(f"{prefix}/upload", include_in_schema=False)
    async def upload(request: Request) -> dict[str, object]:
        digest, length, chunks = hashlib.sha256(), 0, 0
        async for chunk in request.stream():
            digest.update(chunk)
            length += len(chunk)
            chunks += 1
        return {
            "length": length,
            "sha256": digest.hexdigest(),
            "chunked": "content-length" not in request.headers,
        }

    @app.get(f"{prefix}/events", include_in_schema=False)
    async def events() -> StreamingResponse:
        async def forever():
            streams["open"] += 1
            try:
                n = 0
                while True:
                    yield f"data: {n}\n\n".encode()
                    n += 1
                    await asyncio.sleep(0.02)
            finally:
                streams["open"] -= 1

        return StreamingResponse(forever(), media_type="text/event-stream")

    @app.get(f"{prefix}/events/open", include_in_schema=False)
    async def open_streams() -> dict[str, int]:
        return streams

    @app.get(f"{prefix}/cookie", include_in_schema=False)
    async def cookie() -> JSONResponse:
        response = JSONResponse({"service": service})
        response.set_cookie("upstream_session", "secret-of-one-caller")
        return response

    @app.get(f"{prefix}/inflight", include_in_schema=False)
    async def track_inflight() -> dict[str, int]:
        inflight["now"] += 1
        inflight["max"] = max(inflight["max"], inflight["now"])
        try:
            await asyncio.sleep(0.05)
        finally:
            inflight["now"] -= 1
        return inflight

    @app.post(f"{prefix}/inflight/reset", include_in_schema=False)
    async def reset_inflight() -> dict[str, int]:
        inflight["max"] = 0
        return inflight

    @app.api_route(
        "/api/v1/{rest:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "service": service,
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
                "body": body.decode("utf-8", "replace"),
                "peer_port": request.client.port if request.client else None,
            },
            headers={"X-Upstream": service, "X-Request-ID": "upstream-must-not-win"},
        )

    return app


class UpstreamServer:
    """uvicorn serving one app in a background thread, on its own event loop (the gateway's too)."""

    def __init__(self, app: FastAPI, *, lifespan: str = "off") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "UpstreamServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
