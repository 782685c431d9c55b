"""Tokens, /me, stored secrets and request ids, against the real gateway app and its SQLite file."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from gateway import accounts
from gateway.models import UserAccount
from shared.auth import decode_token
from shared.db import session_scope
from shared.errors import PROBLEM_JSON
from shared.settings import get_settings

TOKEN = "/api/v1/auth/token"
COUNTY = "330102000000"
VILLAGE = "330102001001"


def seed(gateway: TestClient) -> None:
    with session_scope(gateway.app.state.engine) as session:
        accounts.ensure_user(
            session,
            username="wang",
            password="correct horse",
            roles=["agent"],
            org_code=VILLAGE,
            display_name="王代办",
        )
        accounts.ensure_client(
            session,
            client_id="social-security",
            client_secret="s3cret:with colon",
            roles=["system"],
            org_code=COUNTY,
            name="County social security system",
        )


@pytest.fixture
def seeded(gateway: TestClient) -> TestClient:
    seed(gateway)
    return gateway


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == f"urn:weimin:problem:{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


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
    with session_scope(seeded.app.state.engine) as session:
        user = accounts.get_user(session, "wang")
        assert user is not None
        user.active = False
        session.add(user)
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


def test_secrets_are_stored_as_argon2_hashes_and_ensure_is_idempotent(gateway: TestClient) -> None:
    engine = gateway.app.state.engine
    with session_scope(engine) as session:
        first = accounts.ensure_user(
            session,
            username="li",
            password="first-password",
            roles=["clerk"],
            org_code=COUNTY,
            display_name="李",
        )
        client = accounts.ensure_client(
            session, client_id="c1", client_secret="client-secret", org_code=COUNTY
        )
    assert first.password_hash.startswith("$argon2id$") and "first-password" not in first.password_hash
    assert client.secret_hash.startswith("$argon2id$") and "client-secret" not in client.secret_hash

    with session_scope(engine) as session:
        again = accounts.ensure_user(
            session,
            username="li",
            password="other-password",
            roles=["admin"],
            org_code=VILLAGE,
            display_name="changed",
        )
        assert again.id == first.id and again.password_hash == first.password_hash
        assert again.roles == ["clerk"] and again.org_code == COUNTY
    with Session(engine) as session:
        stored = session.get(UserAccount, first.id)
        assert stored is not None
        assert accounts.authenticate_user(session, username="li", password="first-password").id == first.id


def test_ensure_user_refuses_unknown_roles_and_bad_org_codes(gateway: TestClient) -> None:
    with Session(gateway.app.state.engine) as session:
        with pytest.raises(ValueError):
            accounts.ensure_user(session, username="x", password="p", roles=["king"], org_code=COUNTY)
        with pytest.raises(ValueError):
            accounts.ensure_user(session, username="x", password="p", roles=["clerk"], org_code="3301")


def test_request_id_is_echoed_or_generated_on_every_response(gateway: TestClient) -> None:
    given = gateway.get("/api/v1/me", headers={"X-Request-ID": "req-abc-123"})
    assert given.status_code == 401
    assert given.headers["x-request-id"] == "req-abc-123"
    generated = gateway.post(TOKEN, data={"grant_type": "nope"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert gateway.get("/no/such/page").headers["x-request-id"]
