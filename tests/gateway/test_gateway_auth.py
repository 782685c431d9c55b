"""Tokens, /me, stored secrets and request ids, against the real gateway app and its SQLite file."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import accounts
from gateway.models import UserAccount
from shared import migrations
from shared.auth import decode_token
from shared.db import make_engine, session_scope
from shared.settings import get_settings
from tests.support import assert_problem

T = TypeVar("T")

TOKEN = "/api/v1/auth/token"
COUNTY = "330102000000"
VILLAGE = "330102001001"


def in_gateway(gateway: TestClient, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction of the running gateway's engine, on the gateway's event loop."""

    async def scoped() -> T:
        async with session_scope(gateway.app.state.engine) as session:
            return await work(session)

    assert gateway.portal is not None, "the gateway's lifespan is running"
    return gateway.portal.call(scoped)


async def seed_accounts(session: AsyncSession) -> None:
    await accounts.ensure_user(
        session,
        username="wang",
        password="correct horse",
        roles=["agent"],
        org_code=VILLAGE,
        display_name="王代办",
    )
    await accounts.ensure_client(
        session,
        client_id="social-security",
        client_secret="s3cret:with colon",
        roles=["system"],
        org_code=COUNTY,
        name="County social security system",
    )


def seed(gateway: TestClient) -> None:
    in_gateway(gateway, seed_accounts)


@pytest.fixture
async def engine(weimin_env: Path) -> AsyncIterator[AsyncEngine]:
    """The gateway's database, migrated to head, without the app."""
    settings = get_settings()
    await anyio.to_thread.run_sync(migrations.upgrade, "gateway", settings)
    engine = make_engine("gateway", settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def seeded(gateway: TestClient) -> TestClient:
    seed(gateway)
    return gateway


def test_password_grant_issues_a_token_that_me_reads(seeded: TestClient) -> None:
    response = seeded.post(
        TOKEN, data={"grant_type": "password", "username": "wang", "password": "correct horse"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().token_ttl_seconds
    assert response.headers["cache-control"] == "no-store"
    principal = decode_token(body["access_token"], get_settings())
    assert (principal.username, principal.roles, principal.org_code) == ("wang", ("agent",), VILLAGE)

    me = seeded.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {"username": "wang", "roles": ["agent"], "org_code": VILLAGE}


def test_wrong_password_and_unknown_user_are_401_problems(seeded: TestClient) -> None:
    wrong = seeded.post(TOKEN, data={"grant_type": "password", "username": "wang", "password": "nope"})
    assert_problem(wrong, 401, "invalid-credentials")
    unknown = seeded.post(TOKEN, data={"grant_type": "password", "username": "nobody", "password": "x"})
    assert_problem(unknown, 401, "invalid-credentials")


def test_client_credentials_in_the_form_or_as_http_basic(seeded: TestClient) -> None:
    form = seeded.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "social-security",
            "client_secret": "s3cret:with colon",
        },
    )
    assert form.status_code == 200, form.text
    principal = decode_token(form.json()["access_token"], get_settings())
    assert (principal.username, principal.roles, principal.org_code) == (
        "social-security",
        ("system",),
        COUNTY,
    )

    # RFC 6749 §2.3.1: each part is form-urlencoded before joining, so the colon in the secret survives.
    basic = base64.b64encode(b"social-security:s3cret%3Awith+colon").decode()
    via_basic = seeded.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert via_basic.status_code == 200, via_basic.text

    wrong = seeded.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": "social-security", "client_secret": "guess"},
    )
    assert_problem(wrong, 401, "invalid-credentials")


def test_bad_token_requests_are_400_problems(seeded: TestClient) -> None:
    unsupported = seeded.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"})
    assert assert_problem(unsupported, 400, "unsupported-grant-type")["error"] == "unsupported_grant_type"
    assert_problem(seeded.post(TOKEN, data={}), 400, "invalid-request")
    assert_problem(
        seeded.post(TOKEN, data={"grant_type": "password", "username": "wang"}), 400, "invalid-request"
    )
    assert_problem(seeded.post(TOKEN, data={"grant_type": "client_credentials"}), 400, "invalid-request")
    # JSON is not an OAuth2 token request.
    assert_problem(seeded.post(TOKEN, json={"grant_type": "password"}), 400, "invalid-request")


def test_inactive_accounts_are_refused(seeded: TestClient) -> None:
    async def disable(session: AsyncSession) -> None:
        user = await accounts.get_user(session, "wang")
        assert user is not None
        user.active = False
        session.add(user)

    in_gateway(seeded, disable)
    response = seeded.post(
        TOKEN, data={"grant_type": "password", "username": "wang", "password": "correct horse"}
    )
    assert_problem(response, 401, "account-disabled")


def test_me_needs_a_valid_token(gateway: TestClient) -> None:
    assert_problem(gateway.get("/api/v1/me"), 401, "unauthorized")
    assert gateway.get("/api/v1/me").headers["www-authenticate"] == "Bearer"
    assert_problem(
        gateway.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "invalid-token"
    )


async def test_secrets_are_stored_as_argon2_hashes_and_ensure_is_idempotent(engine: AsyncEngine) -> None:
    async with session_scope(engine) as session:
        first = await accounts.ensure_user(
            session,
            username="li",
            password="first-password",
            roles=["clerk"],
            org_code=COUNTY,
            display_name="李",
        )
        client = await accounts.ensure_client(
            session, client_id="c1", client_secret="client-secret", org_code=COUNTY
        )
    assert first.password_hash.startswith("$argon2id$") and "first-password" not in first.password_hash
    assert client.secret_hash.startswith("$argon2id$") and "client-secret" not in client.secret_hash

    async with session_scope(engine) as session:
        again = await accounts.ensure_user(
            session,
            username="li",
            password="other-password",
            roles=["admin"],
            org_code=VILLAGE,
            display_name="changed",
        )
        assert again.id == first.id and again.password_hash == first.password_hash
        assert again.roles == ["clerk"] and again.org_code == COUNTY
    async with AsyncSession(engine) as session:
        stored = await session.get(UserAccount, first.id)
        assert stored is not None
        authenticated = await accounts.authenticate_user(session, username="li", password="first-password")
        assert authenticated.id == first.id


async def test_ensure_user_refuses_unknown_roles_and_bad_org_codes(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(ValueError):
            await accounts.ensure_user(session, username="x", password="p", roles=["king"], org_code=COUNTY)
        with pytest.raises(ValueError):
            await accounts.ensure_user(session, username="x", password="p", roles=["clerk"], org_code="3301")


def test_request_id_is_echoed_or_generated_on_every_response(gateway: TestClient) -> None:
    given = gateway.get("/api/v1/me", headers={"X-Request-ID": "req-abc-123"})
    assert given.status_code == 401
    assert given.headers["x-request-id"] == "req-abc-123"
    generated = gateway.post(TOKEN, data={"grant_type": "nope"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert gateway.get("/no/such/page").headers["x-request-id"]


def _on_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_argon2_hashing_and_verification_run_off_the_event_loop(
    gateway: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []

    def spied(name: str, real: Callable[..., T]) -> Callable[..., T]:
        def spy(*args: object) -> T:
            calls.append((name, _on_an_event_loop()))
            return real(*args)

        return spy

    for name in ("hash_secret", "_verify_and_upgrade", "_verify_against_dummy"):
        monkeypatch.setattr(accounts, name, spied(name, getattr(accounts, name)))
    seed(gateway)
    known = {"grant_type": "password", "username": "wang", "password": "correct horse"}
    assert gateway.post(TOKEN, data=known).status_code == 200
    unknown = {"grant_type": "password", "username": "nobody", "password": "x"}
    assert_problem(gateway.post(TOKEN, data=unknown), 401, "invalid-credentials")
    assert {name for name, _ in calls} == {"hash_secret", "_verify_and_upgrade", "_verify_against_dummy"}
    assert not [name for name, on_loop in calls if on_loop], "argon2 ran on the event loop"


def _head(database: str) -> str | None:
    return ScriptDirectory(str(migrations.script_location(database))).get_current_head()


def test_the_gateway_migrates_its_database_at_start_unless_told_not_to(gateway_factory) -> None:
    gateway_factory(WEIMIN_AUTO_MIGRATE="false")
    assert migrations.current_revision("gateway", get_settings()) is None, "left alone"
    gateway_factory(WEIMIN_AUTO_MIGRATE="true")
    assert migrations.current_revision("gateway", get_settings()) == _head("gateway") is not None
