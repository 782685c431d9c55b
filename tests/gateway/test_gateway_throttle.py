"""Login throttling: per account and per client address, growing lock-outs, 429 with Retry-After.

The rules are settings; these tests use windows of a second or two so they stay fast."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from limits.errors import ConfigurationError

from gateway.main import create_app
from shared import migrations
from shared.db import make_engine, session_scope
from shared.settings import get_settings
from tests.gateway.test_gateway_auth import TOKEN, in_gateway, seed_accounts
from tests.support import assert_problem

RIGHT, WRONG = "correct horse", "wrong horse"


def password(username: str, secret: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": secret}


def seeded_gateway(gateway_factory, per_account: str, per_address: str = "1000/minute") -> TestClient:
    gateway = gateway_factory(
        WEIMIN_LOGIN_THROTTLE_PER_ACCOUNT=per_account, WEIMIN_LOGIN_THROTTLE_PER_ADDRESS=per_address
    )
    in_gateway(gateway, seed_accounts)
    return gateway


def assert_locked(reply: httpx.Response) -> int:
    """A 429 problem with a Retry-After in whole seconds; returns them."""
    body = assert_problem(reply, 429, "too-many-attempts")
    retry_after = int(reply.headers["retry-after"])
    assert retry_after >= 1 and body["retry_after"] == retry_after
    return retry_after


def test_repeated_wrong_passwords_lock_the_account_for_a_while_with_429_and_retry_after(
    gateway_factory,
) -> None:
    gateway = seeded_gateway(gateway_factory, "3/2 seconds")
    for _ in range(3):
        assert_problem(gateway.post(TOKEN, data=password("wang", WRONG)), 401, "invalid-credentials")
    retry_after = assert_locked(gateway.post(TOKEN, data=password("wang", WRONG)))
    assert retry_after <= 2
    time.sleep(retry_after + 0.1)
    assert gateway.post(TOKEN, data=password("wang", RIGHT)).status_code == 200, "the lock-out ends"


def test_a_locked_account_is_refused_even_with_the_right_password(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "3/minute")
    for _ in range(3):
        assert gateway.post(TOKEN, data=password("wang", WRONG)).status_code == 401
    assert_locked(gateway.post(TOKEN, data=password("wang", RIGHT)))


def test_a_successful_login_resets_the_accounts_failures(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "3/minute")
    for _ in range(2):
        assert gateway.post(TOKEN, data=password("wang", WRONG)).status_code == 401
    assert gateway.post(TOKEN, data=password("wang", RIGHT)).status_code == 200
    for _ in range(3):  # three more failures are allowed again, not one
        assert gateway.post(TOKEN, data=password("wang", WRONG)).status_code == 401
    assert_locked(gateway.post(TOKEN, data=password("wang", WRONG)))


def test_lock_outs_grow_as_failures_pile_up(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "2/1 second;4/1 minute")
    for _ in range(2):
        assert gateway.post(TOKEN, data=password("wang", WRONG)).status_code == 401
    first = assert_locked(gateway.post(TOKEN, data=password("wang", WRONG)))
    assert first == 1
    time.sleep(1.1)
    for _ in range(2):
        assert gateway.post(TOKEN, data=password("wang", WRONG)).status_code == 401
    second = assert_locked(gateway.post(TOKEN, data=password("wang", WRONG)))
    assert second > 50, "the second lock-out lasts until the minute's first failure leaves the window"


def test_unknown_accounts_are_throttled_like_known_ones(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "3/minute")
    for _ in range(3):
        assert_problem(gateway.post(TOKEN, data=password("nobody", WRONG)), 401, "invalid-credentials")
    assert_locked(gateway.post(TOKEN, data=password("nobody", WRONG)))
    assert gateway.post(TOKEN, data=password("wang", RIGHT)).status_code == 200, (
        "other accounts are not locked"
    )


def test_client_secrets_are_throttled_like_passwords(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "3/minute")
    wrong = {"grant_type": "client_credentials", "client_id": "social-security", "client_secret": WRONG}
    for _ in range(3):
        assert_problem(gateway.post(TOKEN, data=wrong), 401, "invalid-credentials")
    assert_locked(gateway.post(TOKEN, data=wrong))
    # The right secret, as HTTP Basic this time: still locked.
    right = gateway.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=("social-security", "s3cret:with colon")
    )
    assert_locked(right)


def test_parallel_guesses_cannot_overshoot_the_limit(gateway_factory) -> None:
    gateway = seeded_gateway(gateway_factory, "3/minute")
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda _: gateway.post(TOKEN, data=password("wang", WRONG)), range(12)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(401) <= 3 and statuses.count(429) >= 9, statuses
    assert_locked(gateway.post(TOKEN, data=password("wang", RIGHT)))


def _seed_database() -> None:
    settings = get_settings()
    migrations.upgrade("gateway", settings)

    async def seed() -> None:
        engine = make_engine("gateway", settings)
        try:
            async with session_scope(engine) as session:
                await seed_accounts(session)
        finally:
            await engine.dispose()

    asyncio.run(seed())


def test_one_address_guessing_many_accounts_is_throttled(live_gateway, weimin_env: Path) -> None:
    url = live_gateway(
        WEIMIN_LOGIN_THROTTLE_PER_ACCOUNT="100/minute", WEIMIN_LOGIN_THROTTLE_PER_ADDRESS="5/minute"
    )
    _seed_database()
    guesser = httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address="127.0.0.1"))
    # Another machine of the hall's network (another loopback address of this host).
    colleague = httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with guesser, colleague:
        for n in range(5):
            assert guesser.post(TOKEN, data=password(f"user{n}", WRONG)).status_code == 401
        assert_locked(guesser.post(TOKEN, data=password("user99", WRONG)))
        assert_locked(guesser.post(TOKEN, data=password("wang", RIGHT)))  # the address is locked
        assert colleague.post(TOKEN, data=password("wang", RIGHT)).status_code == 200


def test_the_throttle_storage_is_a_setting_read_at_start(gateway_factory) -> None:
    gateway = gateway_factory(WEIMIN_LOGIN_THROTTLE_STORAGE_URL="memory://")
    assert type(gateway.app.state.login_throttle.storage).__module__ == "limits.aio.storage.memory"
    gateway_factory.configure(WEIMIN_LOGIN_THROTTLE_STORAGE_URL="nosuchstore://somewhere")
    with pytest.raises(ConfigurationError), TestClient(create_app()):
        pass
