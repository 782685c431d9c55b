"""Tokens and the caller's identity.

The gateway issues signed JWTs (``sub``, ``roles``, ``org_code``, expiry) and forwards the caller's
token; every service verifies it again with the same key, so a service never trusts a bare header.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request

from shared.divisions import in_subtree, is_division_code
from shared.errors import Forbidden, Unauthorized
from shared.settings import Settings, get_settings

ALGORITHM = "HS256"


class Role(StrEnum):
    agent = "agent"
    clerk = "clerk"
    approver = "approver"
    supervisor = "supervisor"
    admin = "admin"
    system = "system"


@dataclass(frozen=True)
class Principal:
    username: str
    roles: tuple[str, ...]
    org_code: str

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def governs(self, org_code: str) -> bool:
        """True when ``org_code`` lies inside this caller's jurisdiction (their unit's subtree)."""
        return in_subtree(self.org_code, org_code)

    def governs_any(self, org_codes: Iterable[str]) -> bool:
        return any(self.governs(code) for code in org_codes)


def issue_token(principal: Principal, settings: Settings, ttl_seconds: int | None = None) -> tuple[str, int]:
    ttl = ttl_seconds or settings.token_ttl_seconds
    now = int(time.time())
    claims = {
        "sub": principal.username,
        "roles": list(principal.roles),
        "org_code": principal.org_code,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM), ttl


def decode_token(token: str, settings: Settings) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired", slug="token-expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is not valid", slug="invalid-token") from exc
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not isinstance(claims.get("org_code"), str):
        raise Unauthorized("The token lacks roles or org_code", slug="invalid-token")
    if not is_division_code(claims["org_code"]):
        raise Unauthorized("The token's org_code is not a 12-digit division code", slug="invalid-token")
    return Principal(username=str(claims["sub"]), roles=tuple(map(str, roles)), org_code=claims["org_code"])


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required")
    return decode_token(token, get_settings())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(principal: Principal, *roles: str) -> None:
    if not principal.has(*roles):
        raise Forbidden(f"This action needs one of the roles: {', '.join(roles)}", slug="role-required")
