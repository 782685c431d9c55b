"""The launched network signs tokens with its own key pair, made under its var dir by its gateway:
the services verify with the public keys alone, and nobody else's key (nor the old shared secret) works."""

from __future__ import annotations

import stat
import time
from datetime import date

import httpx
import jwt

from shared.auth import Principal
from shared.case_numbers import mint_case_number
from tests import support
from tests.e2e.conftest import RunningNetwork

VILLAGE = "371424100201"
AGENT = Principal(f"agent-{VILLAGE}", ("agent",), VILLAGE)
ADMIN = Principal("admin", ("admin",), "371424000000")
OLD_SHARED_SECRET = "weimin-development-secret-change-me-0123456789"
SUPERVISION = 5  # port offset (deploy/processes.toml)
UNKNOWN_CASE = f"/api/v1/cases/{mint_case_number(VILLAGE, date(2026, 1, 5), 999)}"


def test_the_network_signs_with_its_own_key_and_services_verify_with_the_public_keys(
    network: RunningNetwork,
) -> None:
    keys = network.var_dir / "keys"
    assert stat.S_IMODE((keys / "token-signing-key.pem").stat().st_mode) == 0o600
    published = httpx.get(f"{network.gateway}/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in published] == [jwt.get_unverified_header(network.token(AGENT.username))["kid"]]

    minted = {"Authorization": f"Bearer {network.mint(AGENT)}"}
    assert httpx.get(f"{network.gateway}/api/v1/me", headers=minted).json()["username"] == AGENT.username
    direct = httpx.get(f"{network.service_url(SUPERVISION)}{UNKNOWN_CASE}", headers=minted)
    assert direct.status_code == 404, f"a service verifies the network's tokens itself: {direct.text}"


def test_tokens_from_another_key_or_the_old_shared_secret_are_refused_everywhere(
    network: RunningNetwork,
) -> None:
    now = int(time.time())
    claims = {
        "sub": "admin",
        "roles": ["admin"],
        "org_code": "371424000000",
        "iss": "weimin",
        "exp": now + 600,
    }
    forged = {
        "the test session's key": support.bearer(ADMIN)["Authorization"].removeprefix("Bearer "),
        "the old HS256 secret": jwt.encode(claims, OLD_SHARED_SECRET, algorithm="HS256"),
    }
    for what, token in forged.items():
        headers = {"Authorization": f"Bearer {token}"}
        for url in (f"{network.gateway}/api/v1/me", f"{network.service_url(SUPERVISION)}{UNKNOWN_CASE}"):
            reply = httpx.get(url, headers=headers)
            assert reply.status_code == 401, f"{what} at {url}: {reply.status_code} {reply.text}"
