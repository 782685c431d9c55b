"""Settings, tokens (EdDSA, verified with public keys alone), jurisdiction by division code, and
problem+json rendering."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from gateway import keys
from shared.auth import ALGORITHM, MissingSigningKey, Principal, decode_token, issue_token, read_signing_key
from shared.divisions import Level, ancestor_at, in_subtree, level_of, parent_of
from shared.errors import Conflict, Unauthorized, install_error_handlers
from shared.middleware import RequestIdMiddleware
from shared.settings import Settings

AGENT = Principal("agent-371424100201", ("agent",), "371424100201")
# The HS256 secret `make run` used to sign with, written in the code: anyone could mint with it.
OLD_SHARED_SECRET = "weimin-development-secret-change-me-0123456789"


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base = {"sub": "x", "roles": ["agent"], "org_code": "371424100201", "iss": "weimin", "exp": now + 60}
    return {**base, **overrides}


def signed(claims: dict[str, object], settings: Settings) -> str:
    """A token for exactly these claims, signed with the settings' private key."""
    key = read_signing_key(settings.signing_key_path)
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def test_production_refuses_to_start_without_configured_token_keys() -> None:
    database = "postgresql+psycopg://db/weimin"
    with pytest.raises(ValidationError, match="Token keys"):
        Settings(
            environment="production",
            database_url=database,
            token_signing_key_file=None,
            token_public_keys_file=None,
            jwks_url="",
        )
    with pytest.raises(ValidationError):
        Settings(
            environment="production", token_public_keys_file=Path("/etc/weimin/jwks.json")
        )  # and PostgreSQL
    assert Settings(
        environment="production", database_url=database, jwks_url="http://gateway/.well-known/jwks.json"
    )
    assert Settings(
        environment="production", database_url=database, token_signing_key_file=Path("/etc/weimin/key.pem")
    )


def test_settings_read_the_weimin_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIMIN_NATS_URL", "nats://10.0.0.1:4222")
    monkeypatch.setenv("WEIMIN_JWKS_URL", "http://gateway:8000/.well-known/jwks.json")
    assert Settings().nats_url == "nats://10.0.0.1:4222"
    assert Settings().jwks_url == "http://gateway:8000/.well-known/jwks.json"


def test_development_keys_live_under_the_var_dir_beside_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEIMIN_TOKEN_SIGNING_KEY_FILE", "WEIMIN_TOKEN_PUBLIC_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(var_dir=Path("/srv/weimin/var"))
    assert settings.signing_key_path == Path("/srv/weimin/var/keys/token-signing-key.pem")
    assert settings.public_keys_path == Path("/srv/weimin/var/keys/jwks.json")


def test_token_round_trip_carries_identity_and_names_its_key() -> None:
    settings = Settings()
    token, ttl = issue_token(AGENT, settings)
    assert ttl == settings.token_ttl_seconds
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == keys.read_jwks(settings.public_keys_path)[0]["kid"]
    assert decode_token(token, settings) == AGENT


def test_services_verify_with_the_public_keys_alone(tmp_path: Path) -> None:
    token, _ = issue_token(AGENT, Settings())
    service = Settings(
        token_signing_key_file=tmp_path / "no-private-key-here.pem",
        token_public_keys_file=Settings().public_keys_path,
    )
    assert decode_token(token, service) == AGENT
    with pytest.raises(MissingSigningKey):
        issue_token(AGENT, service)  # nothing a service holds can mint a token


def test_expired_or_foreign_tokens_are_refused(tmp_path: Path) -> None:
    settings = Settings()
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(signed(claims(exp=int(time.time()) - 10), settings), settings)
    # Another installation's key pair: a well-formed EdDSA token this network does not trust.
    elsewhere = Settings(
        token_signing_key_file=tmp_path / "other.pem", token_public_keys_file=tmp_path / "o.json"
    )
    keys.init(elsewhere)
    forged, _ = issue_token(AGENT, elsewhere)
    with pytest.raises(Unauthorized, match="does not trust"):
        decode_token(forged, settings)
    # The same kid as ours but signed by another key: the signature does not hold.
    impostor = jwt.encode(
        claims(),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": read_signing_key(settings.signing_key_path).kid},
    )
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(impostor, settings)


def test_tokens_signed_with_the_old_shared_secret_or_no_key_are_refused() -> None:
    settings = Settings()
    for token in (
        jwt.encode(claims(roles=["admin"]), OLD_SHARED_SECRET, algorithm="HS256"),
        jwt.encode(claims(roles=["admin"]), OLD_SHARED_SECRET, algorithm="HS256", headers={"kid": "x"}),
        jwt.encode(claims(roles=["admin"]), None, algorithm="none"),
        "not.a.token",
    ):
        with pytest.raises(Unauthorized) as refused:
            decode_token(token, settings)
        assert refused.value.status == 401


def test_a_signed_token_whose_org_code_is_not_a_division_code_is_401() -> None:
    settings = Settings()
    for org_code in ("not-a-code", "12345", "3714241002011"):
        with pytest.raises(Unauthorized, match="division code"):
            decode_token(signed(claims(org_code=org_code), settings), settings)


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
