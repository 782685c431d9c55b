"""Every service refuses an oversized body itself (a caller that reaches it without the gateway
cannot send more), with a 413 problem, sized or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.errors import install_error_handlers
from shared.middleware import BodyLimitMiddleware, RequestIdMiddleware
from tests.case_fixtures import service_client
from tests.support import NatsServer, assert_problem

MiB = 1024 * 1024


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


@pytest.fixture(scope="module")
def quiet_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this module's own: the service starts and stops at once, with no backlog that
    other tests left on the session's stream for its consumer to work through."""
    server = NatsServer(tmp_path_factory.mktemp("nats-body-limits")).start()
    try:
        yield server.url
    finally:
        server.stop()


def test_a_service_refuses_a_body_over_its_own_limit_from_a_direct_caller(
    quiet_nats: str, tmp_path: Path
) -> None:
    with service_client("supervision", tmp_path / "var", quiet_nats) as client:
        evaluations = "/api/v1/supervision/evaluations"
        json_headers = {"Content-Type": "application/json"}
        sized = client.post(evaluations, content=b" " * (2 * MiB), headers=json_headers)
        assert_problem(sized, 413, "body-too-large")
        streamed = client.post(evaluations, content=chunks(2 * MiB), headers=json_headers)
        assert_problem(streamed, 413, "body-too-large")
        # Within the limit the route answers as it always did (a validation problem for this body).
        assert client.post(evaluations, json={"case_id": "x"}).status_code == 422


class Thing(BaseModel):
    name: str


def limited_app(limit: int) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit_for=lambda scope: limit)
    app.add_middleware(RequestIdMiddleware)

    @app.post("/things")
    async def things(thing: Thing) -> Thing:
        return thing

    @app.post("/form")
    async def form(name: str = Form()) -> dict[str, str]:
        return {"name": name}

    return app


def test_what_an_app_answers_to_a_cut_body_is_replaced_by_the_413() -> None:
    client = TestClient(limited_app(1000))
    assert client.post("/things", json={"name": "ok"}).json() == {"name": "ok"}
    # Cut off mid-stream, the JSON route would say 422 and the form parser 400: the caller hears 413.
    for path, content_type in (
        ("/things", "application/json"),
        ("/form", "application/x-www-form-urlencoded"),
    ):
        reply = client.post(path, content=chunks(5000, 600), headers={"Content-Type": content_type})
        body = assert_problem(reply, 413, "body-too-large")
        assert body["max_bytes"] == 1000
