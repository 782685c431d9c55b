"""Accounts that may ask for a token: officers and agents (password), other systems (client credentials).

Plain functions over a session; they ``flush``, the caller's scope commits. Secrets are stored as
argon2id hashes only. The demo loader and admin tools call ``ensure_user`` / ``ensure_client``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from sqlmodel import Session, select

from gateway.models import ApiClient, UserAccount
from shared.auth import Principal, Role
from shared.divisions import is_division_code
from shared.errors import Unauthorized

password_hash = PasswordHash.recommended()
# argon2id takes 64 MiB and a core per hash: more at once than there are cores only costs memory (and
# invites a login flood to exhaust it), so token requests queue here instead.
_hashing = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"


class AccountDisabled(Unauthorized):
    slug, title = "account-disabled", "Account disabled"


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


def _checked_roles(roles: Iterable[str]) -> list[str]:
    checked = [Role(r).value for r in roles]  # ValueError on an unknown role
    if not checked:
        raise ValueError("an account needs at least one role")
    return checked


def _checked_org(org_code: str) -> str:
    if not is_division_code(org_code):
        raise ValueError(f"org_code must be a 12-digit division code: {org_code!r}")
    return org_code


def get_user(session: Session, username: str) -> UserAccount | None:
    return session.exec(select(UserAccount).where(UserAccount.username == username)).first()


def get_client(session: Session, client_id: str) -> ApiClient | None:
    return session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()


def ensure_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    org_code: str,
    display_name: str = "",
) -> UserAccount:
    """The user named ``username``; created when missing, an existing one is returned unchanged."""
    existing = get_user(session, username)
    if existing is not None:
        return existing
    checked_roles, checked_org = _checked_roles(roles), _checked_org(org_code)
    user = UserAccount(
        username=username,
        password_hash=hash_secret(password),
        roles=checked_roles,
        org_code=checked_org,
        display_name=display_name,
    )
    session.add(user)
    session.flush()
    return user


def ensure_client(
    session: Session,
    *,
    client_id: str,
    client_secret: str,
    roles: Iterable[str] = (Role.system,),
    org_code: str,
    name: str = "",
) -> ApiClient:
    """The API client ``client_id``; created when missing, an existing one is returned unchanged."""
    existing = get_client(session, client_id)
    if existing is not None:
        return existing
    checked_roles, checked_org = _checked_roles(roles), _checked_org(org_code)
    client = ApiClient(
        client_id=client_id,
        secret_hash=hash_secret(client_secret),
        roles=checked_roles,
        org_code=checked_org,
        name=name,
    )
    session.add(client)
    session.flush()
    return client


def _verify_and_upgrade(secret: str, stored: str) -> tuple[bool, str | None]:
    try:
        with _hashing:
            return password_hash.verify_and_update(secret, stored)
    except UnknownHashError:
        return False, None


def _checked_secret(
    session: Session,
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
        verify_secret(secret, _dummy_hash())
        raise InvalidCredentials(refused)
    ok, upgraded = _verify_and_upgrade(secret, getattr(account, hash_field))
    if not ok:
        raise InvalidCredentials(refused)
    if not account.active:
        raise AccountDisabled(disabled)
    if upgraded:
        setattr(account, hash_field, upgraded)
        session.add(account)
        session.flush()


def authenticate_user(session: Session, *, username: str, password: str) -> UserAccount:
    """The active user these credentials name; ``InvalidCredentials`` / ``AccountDisabled`` otherwise."""
    user = get_user(session, username)
    _checked_secret(
        session,
        user,
        password,
        "password_hash",
        refused="Unknown username or wrong password",
        disabled="This account has been disabled",
    )
    assert user is not None
    return user


def authenticate_client(session: Session, *, client_id: str, client_secret: str) -> ApiClient:
    """The active API client these credentials name; raises like ``authenticate_user``."""
    client = get_client(session, client_id)
    _checked_secret(
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
