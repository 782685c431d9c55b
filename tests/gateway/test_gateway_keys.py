"""Token keys: made per installation by the gateway, published as JWKS, rotated with an overlap, retired;
services verify with the public keys alone (the JWKS file, or the gateway's JWKS URL)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from gateway import keys
from gateway.main import create_app
from shared.auth import MissingSigningKey, Principal, decode_token, issue_token, verification_keys
from shared.errors import Unauthorized
from shared.settings import Settings, get_settings
from tests.gateway.test_gateway_auth import TOKEN, in_gateway, seed_accounts
from tests.support import assert_problem

CLERK = Principal("clerk1", ("clerk",), "330102000000")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_keys(weimin_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No configured key files (the session's are unset): the development default under the var dir."""
    for name in ("WEIMIN_TOKEN_SIGNING_KEY_FILE", "WEIMIN_TOKEN_PUBLIC_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return weimin_env / "keys"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def service_settings(key_dir: Path, **extra: object) -> Settings:
    """What a service holds: the public keys, no private key."""
    return Settings(
        token_signing_key_file=key_dir / "elsewhere" / "absent.pem",
        token_public_keys_file=key_dir / "jwks.json",
        **extra,  # type: ignore[arg-type]
    )


def test_the_gateway_makes_its_key_pair_on_first_start_outside_production(
    gateway_factory, own_keys: Path
) -> None:
    gateway = gateway_factory()
    private = own_keys / "token-signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600, "only the gateway's user may read the key"
    published = gateway.get("/.well-known/jwks.json")
    assert published.status_code == 200 and "public" in published.headers["cache-control"]
    (jwk,) = published.json()["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert "d" not in jwk, "the JWKS holds no private part"
    assert keys.read_jwks(own_keys / "jwks.json") == [jwk]

    in_gateway(gateway, seed_accounts)
    token = gateway.post(
        TOKEN, data={"grant_type": "password", "username": "wang", "password": "correct horse"}
    )
    access = token.json()["access_token"]
    assert kid(access) == jwk["kid"]
    assert decode_token(access, service_settings(own_keys)).username == "wang"

    again = gateway_factory()  # a restart keeps the installation's key
    assert again.get("/.well-known/jwks.json").json()["keys"] == [jwk]


def test_the_jwks_is_public_and_shown_in_the_gateways_openapi(gateway: TestClient) -> None:
    assert gateway.get("/.well-known/jwks.json").status_code == 200
    operation = gateway.get("/openapi.json").json()["paths"]["/.well-known/jwks.json"]["get"]
    assert operation["security"] == []


@pytest.mark.parametrize("configured", [True, False])
def test_a_production_gateway_refuses_to_start_without_its_key(
    gateway_factory, own_keys: Path, tmp_path: Path, configured: bool
) -> None:
    env = {"WEIMIN_ENVIRONMENT": "production", "WEIMIN_DATABASE_URL": "postgresql+psycopg://nowhere/weimin"}
    if configured:  # configured, but the file is not there: never generated in production
        env["WEIMIN_TOKEN_SIGNING_KEY_FILE"] = str(tmp_path / "missing" / "key.pem")
    else:  # a services-style configuration: public keys only
        env["WEIMIN_TOKEN_PUBLIC_KEYS_FILE"] = str(tmp_path / "jwks.json")
    gateway_factory.configure(**env)
    with pytest.raises(MissingSigningKey), TestClient(create_app()):
        pass
    assert not (tmp_path / "missing").exists() and not own_keys.exists(), "no key was generated"


def test_a_token_signed_by_the_previous_key_verifies_after_rotation_and_fails_after_retirement(
    gateway_factory, own_keys: Path
) -> None:
    gateway = gateway_factory()
    settings = get_settings()
    old, _ = issue_token(CLERK, settings)
    assert gateway.get("/api/v1/intake/anything", headers=auth(old)).status_code == 200

    new_kid, old_kid = keys.rotate(settings)
    assert kid(old) == old_kid != new_kid
    new, _ = issue_token(CLERK, settings)
    assert kid(new) == new_kid, "the new key signs at once"
    published = [k["kid"] for k in gateway.get("/.well-known/jwks.json").json()["keys"]]
    assert published == [new_kid, old_kid]
    for token in (old, new):  # the overlap: both verify, at the gateway and at a service
        assert gateway.get("/api/v1/me", headers=auth(token)).status_code == 200
        assert gateway.get("/api/v1/intake/anything", headers=auth(token)).status_code == 200
        assert decode_token(token, service_settings(own_keys)) == CLERK

    with pytest.raises(keys.KeysRefused):
        keys.retire(settings)  # the old key's tokens may still be valid for an hour
    assert keys.retire(settings, force=True) == [old_kid]
    assert_problem(gateway.get("/api/v1/me", headers=auth(old)), 401, "invalid-token")
    assert_problem(gateway.get("/api/v1/intake/anything", headers=auth(old)), 401, "invalid-token")
    with pytest.raises(Unauthorized):
        decode_token(old, service_settings(own_keys))
    assert gateway.get("/api/v1/me", headers=auth(new)).status_code == 200


def test_services_can_verify_with_the_gateways_jwks_url(live_gateway, own_keys: Path, tmp_path: Path) -> None:
    url = live_gateway()
    settings = get_settings()
    service = Settings(
        token_signing_key_file=tmp_path / "absent.pem",
        token_public_keys_file=tmp_path / "absent.json",
        jwks_url=f"{url}/.well-known/jwks.json",
        jwks_cache_seconds=0,
    )
    old, _ = issue_token(CLERK, settings)
    assert decode_token(old, service) == CLERK
    source = verification_keys(service)
    source.MIN_REFRESH = 0  # type: ignore[union-attr]  # refetch at once on an unknown kid
    keys.rotate(settings)
    new, _ = issue_token(CLERK, settings)
    assert decode_token(new, service) == CLERK, "an unknown kid fetches the keys again"
    keys.retire(settings, force=True)
    with pytest.raises(Unauthorized):
        decode_token(old, service)


def test_the_keys_command_rotates_and_retires(own_keys: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WEIMIN_TOKEN_SIGNING_KEY_FILE", "WEIMIN_TOKEN_PUBLIC_KEYS_FILE")
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.keys", *args], env=env, cwd=ROOT, capture_output=True, text=True
        )

    made = run("init")
    assert made.returncode == 0, made.stderr
    first = keys.read_jwks(own_keys / "jwks.json")[0]["kid"]
    rotated = run("rotate")
    assert rotated.returncode == 0 and first in rotated.stdout
    assert len(keys.read_jwks(own_keys / "jwks.json")) == 2
    refused = run("retire")
    assert refused.returncode == 1 and "Refused" in refused.stderr
    retired = run("retire", "--force")
    assert retired.returncode == 0, retired.stderr
    (left,) = keys.read_jwks(own_keys / "jwks.json")
    assert left["kid"] != first
