"""Settings, tokens, jurisdiction by division code, and problem+json rendering."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from shared.auth import Principal, decode_token, issue_token
from shared.divisions import Level, ancestor_at, in_subtree, level_of, parent_of
from shared.errors import Conflict, Unauthorized, install_error_handlers
from shared.middleware import RequestIdMiddleware
from shared.settings import DEV_JWT_SECRET, Settings

AGENT = Principal("agent-371424100201", ("agent",), "371424100201")


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", database_url="postgresql+psycopg://db/weimin")
    with pytest.raises(ValidationError):
        Settings(environment="production", jwt_secret="s" * 40)  # and needs PostgreSQL
    assert Settings(environment="production", jwt_secret="s" * 40, database_url="postgresql+psycopg://db/w")


def test_settings_read_the_weimin_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIMIN_NATS_URL", "nats://10.0.0.1:4222")
    assert Settings().nats_url == "nats://10.0.0.1:4222"
    assert Settings().jwt_secret == DEV_JWT_SECRET


def test_token_round_trip_carries_identity() -> None:
    settings = Settings()
    token, ttl = issue_token(AGENT, settings)
    assert ttl == settings.token_ttl_seconds
    assert decode_token(token, settings) == AGENT


def test_expired_or_foreign_tokens_are_refused() -> None:
    settings = Settings()
    expired = jwt.encode(
        {"sub": "x", "roles": [], "org_code": "371424000000", "iss": "weimin", "exp": int(time.time()) - 10},
        settings.jwt_secret,
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(expired, settings)
    forged, _ = issue_token(AGENT, Settings(jwt_secret="another-secret-" * 3))
    with pytest.raises(Unauthorized):
        decode_token(forged, settings)


def test_jurisdiction_is_the_units_subtree() -> None:
    county = Principal("s", ("supervisor",), "371424000000")
    town = Principal("c", ("clerk",), "371424100000")
    assert county.governs("371424100201") and county.governs("371424202000")
    assert not county.governs("371425100201")
    assert town.governs("371424100201") and not town.governs("371424202201")
    assert AGENT.governs("371424100201") and not AGENT.governs("371424100202")
    assert not AGENT.governs("371424100000"), "a village agent does not see its town's cases"


def test_division_codes_know_their_level_and_ancestors() -> None:
    assert level_of("371400000000") == Level.city
    assert level_of("371424000000") == Level.county
    assert level_of("371424001000") == Level.town
    assert level_of("371424100201") == Level.village
    assert ancestor_at("371424100201", Level.town) == "371424100000"
    assert parent_of("371424100000") == "371424000000"
    assert in_subtree("371424100000", "371424100201") and not in_subtree("371424100000", "not-a-code")


class _Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.post("/things")
    def things(body: _Body) -> dict:
        raise Conflict("already there", slug="thing-exists")

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("secret internals")

    return app


def test_errors_are_problem_json_with_stable_types_and_no_stack_trace() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    conflict = client.post("/things", json={"count": 1})
    assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["type"] == "urn:weimin:problem:thing-exists"
    invalid = client.post("/things", json={"count": "many"})
    assert invalid.status_code == 422 and invalid.json()["type"] == "urn:weimin:problem:invalid-input"
    crashed = client.get("/boom")
    assert crashed.status_code == 500 and "secret internals" not in crashed.text
    assert "Traceback" not in crashed.text
    assert all(r.headers["x-request-id"] for r in (conflict, invalid, crashed))
    assert client.get("/boom", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
