"""Accounts that may ask for a token: officers and agents (password), other systems (client credentials).

Async functions over an ``AsyncSession``; they ``flush``, the caller's scope commits. Secrets are
stored as argon2id hashes only. Argon2id is deliberately slow (tens of milliseconds and 64 MiB a
hash), so every hash and verification runs in a worker thread, never on the event loop. The demo
loader and admin tools call ``ensure_user`` / ``ensure_client``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from functools import cache

import anyio
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import ApiClient, UserAccount
from shared.auth import Principal, Role
from shared.divisions import is_division_code
from shared.errors import Unauthorized

password_hash = PasswordHash.recommended()
# argon2id takes 64 MiB and a core per hash: more at once than there are cores only costs memory (and
# invites a login flood to exhaust it), so token requests queue here instead. A thread semaphore:
# the hashing runs in worker threads, and a process may run more than one event loop (tests, loaders).
_hashing = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"


class AccountDisabled(Unauthorized):
    slug, title = "account-disabled", "Account disabled"


# -- argon2, blocking: call these from a worker thread (the async functions below do) --------------


def hash_secret(secret: str) -> str:
    with _hashing:
        return password_hash.hash(secret)


def verify_secret(secret: str, secret_hash: str) -> bool:
    try:
        with _hashing:
            return password_hash.verify(secret, secret_hash)
    except UnknownHashError:
        return False


@cache
def _dummy_hash() -> str:
    return password_hash.hash("weimin-dummy-password-for-unknown-accounts")


def _verify_against_dummy(secret: str) -> None:
    verify_secret(secret, _dummy_hash())


def _verify_and_upgrade(secret: str, stored: str) -> tuple[bool, str | None]:
    try:
        with _hashing:
            return password_hash.verify_and_update(secret, stored)
    except UnknownHashError:
        return False, None


# -- accounts --------------------------------------------------------------------------------------


def _checked_roles(roles: Iterable[str]) -> list[str]:
    checked = [Role(r).value for r in roles]  # ValueError on an unknown role
    if not checked:
        raise ValueError("an account needs at least one role")
    return checked


def _checked_org(org_code: str) -> str:
    if not is_division_code(org_code):
        raise ValueError(f"org_code must be a 12-digit division code: {org_code!r}")
    return org_code


async def get_user(session: AsyncSession, username: str) -> UserAccount | None:
    return (await session.exec(select(UserAccount).where(UserAccount.username == username))).first()


async def get_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    return (await session.exec(select(ApiClient).where(ApiClient.client_id == client_id))).first()


async def ensure_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    org_code: str,
    display_name: str = "",
) -> UserAccount:
    """The user named ``username``; created when missing, an existing one is returned unchanged."""
    existing = await get_user(session, username)
    if existing is not None:
        return existing
    checked_roles, checked_org = _checked_roles(roles), _checked_org(org_code)
    user = UserAccount(
        username=username,
        password_hash=await anyio.to_thread.run_sync(hash_secret, password),
        roles=checked_roles,
        org_code=checked_org,
        display_name=display_name,
    )
    session.add(user)
    await session.flush()
    return user


async def ensure_client(
    session: AsyncSession,
    *,
    client_id: str,
    client_secret: str,
    roles: Iterable[str] = (Role.system,),
    org_code: str,
    name: str = "",
) -> ApiClient:
    """The API client ``client_id``; created when missing, an existing one is returned unchanged."""
    existing = await get_client(session, client_id)
    if existing is not None:
        return existing
    checked_roles, checked_org = _checked_roles(roles), _checked_org(org_code)
    client = ApiClient(
        client_id=client_id,
        secret_hash=await anyio.to_thread.run_sync(hash_secret, client_secret),
        roles=checked_roles,
        org_code=checked_org,
        name=name,
    )
    session.add(client)
    await session.flush()
    return client


async def _checked_secret(
    session: AsyncSession,
    account: UserAccount | ApiClient | None,
    secret: str,
    hash_field: str,
    *,
    refused: str,
    disabled: str,
) -> None:
    """Verify ``secret`` against the account's stored hash (upgrading an outdated hash), or raise."""
    if account is None:
        # Spend the same argon2 time as a real check, so response times do not reveal who exists.
        await anyio.to_thread.run_sync(_verify_against_dummy, secret)
        raise InvalidCredentials(refused)
    ok, upgraded = await anyio.to_thread.run_sync(_verify_and_upgrade, secret, getattr(account, hash_field))
    if not ok:
        raise InvalidCredentials(refused)
    if not account.active:
        raise AccountDisabled(disabled)
    if upgraded:
        setattr(account, hash_field, upgraded)
        session.add(account)
        await session.flush()


async def authenticate_user(session: AsyncSession, *, username: str, password: str) -> UserAccount:
    """The active user these credentials name; ``InvalidCredentials`` / ``AccountDisabled`` otherwise."""
    user = await get_user(session, username)
    await _checked_secret(
        session,
        user,
        password,
        "password_hash",
        refused="Unknown username or wrong password",
        disabled="This account has been disabled",
    )
    assert user is not None
    return user


async def authenticate_client(session: AsyncSession, *, client_id: str, client_secret: str) -> ApiClient:
    """The active API client these credentials name; raises like ``authenticate_user``."""
    client = await get_client(session, client_id)
    await _checked_secret(
        session,
        client,
        client_secret,
        "secret_hash",
        refused="Unknown client or wrong secret",
        disabled="This client has been disabled",
    )
    assert client is not None
    return client


def user_principal(user: UserAccount) -> Principal:
    return Principal(username=user.username, roles=tuple(user.roles), org_code=user.org_code)


def client_principal(client: ApiClient) -> Principal:
    return Principal(username=client.client_id, roles=tuple(client.roles), org_code=client.org_code)
