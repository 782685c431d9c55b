"""Tokens and the caller's identity.

The gateway issues JWTs (``sub``, ``roles``, ``org_code``, expiry) signed with EdDSA (Ed25519) by a
private key only it holds; the header's ``kid`` names the key. Every service verifies the token again
with the public keys alone (a JWKS: the file the gateway writes beside its key, or its
``/.well-known/jwks.json`` fetched and cached), so a service never trusts a bare header and never
holds anything that could mint a token. Key files are made and rotated by ``gateway.keys``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request

from shared.divisions import in_subtree, is_division_code
from shared.errors import Forbidden, Unauthorized
from shared.settings import Settings, get_settings

ALGORITHM = "EdDSA"
log = logging.getLogger("weimin.auth")


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


# -- keys -------------------------------------------------------------------------------------------


class MissingSigningKey(RuntimeError):
    """No private key where the settings say the gateway's signing key is."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037), its ``kid`` the RFC 7638 thumbprint: stable, no registry."""
    x = _b64url(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": ALGORITHM}


def _file_version(path: Path) -> tuple[int, int, int] | None:
    """What changes when a key file is replaced or rewritten (None: no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


_signing_keys: dict[Path, tuple[tuple[int, int, int], SigningKey]] = {}


def read_signing_key(path: Path) -> SigningKey:
    """The Ed25519 private key in ``path`` (PKCS#8 PEM), re-read when the file changes (a rotation)."""
    version = _file_version(path)
    if version is None:
        raise MissingSigningKey(
            f"No token signing key at {path}: the gateway makes one on first start outside production; "
            "in production create it with `python -m gateway.keys init` and set WEIMIN_TOKEN_SIGNING_KEY_FILE"
        )
    cached = _signing_keys.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise MissingSigningKey(f"{path} does not hold an Ed25519 private key")
    key = SigningKey(public_jwk(private_key.public_key())["kid"], private_key)
    _signing_keys[path] = (version, key)
    return key


def parse_jwks(document: Any) -> dict[str, Any]:
    """kid -> public key for every usable Ed25519 key of a JWKS document (others are skipped)."""
    keys: dict[str, Any] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        try:
            jwk = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
        if isinstance(entry.get("kid"), str):
            keys[entry["kid"]] = jwk.key
    return keys


class PublicKeys(Protocol):
    def find(self, kid: str) -> Any | None: ...


class JwksFile:
    """Public keys from a JWKS file, re-read whenever the file changes (a rotation or a retirement)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._version: tuple[int, int, int] | None = None
        self._keys: dict[str, Any] = {}
        self._missing_said = False

    def version(self) -> tuple[int, int, int] | None:
        return _file_version(self.path)

    def keys(self) -> dict[str, Any]:
        version = self.version()
        if version is None and not self._missing_said:
            log.warning("no token public keys at %s yet: every token is refused until there are", self.path)
            self._missing_said = True
        if version != self._version:
            try:
                keys = parse_jwks(json.loads(self.path.read_text())) if version else {}
            except (OSError, ValueError) as exc:
                log.warning("cannot read the token public keys at %s: %s", self.path, exc)
                keys = {}
            if version and not keys:
                log.warning("no usable token public key in %s", self.path)
            self._keys, self._version = keys, version
        return self._keys

    def find(self, kid: str) -> Any | None:
        return self.keys().get(kid)


class JwksUrl:
    """Public keys fetched from the gateway's JWKS URL and cached; an unknown ``kid`` (the gateway has
    rotated) fetches again, at most every ``MIN_REFRESH`` seconds so forged kids cannot flood it."""

    MIN_REFRESH = 1.0
    TIMEOUT = 5.0

    def __init__(self, url: str, cache_seconds: float) -> None:
        self.url, self.cache_seconds = url, cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self, *, unknown_kid: bool) -> None:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < (self.MIN_REFRESH if unknown_kid else self.cache_seconds):
                return
            try:
                reply = httpx.get(self.url, timeout=self.TIMEOUT, follow_redirects=False)
                reply.raise_for_status()
                self._keys = parse_jwks(reply.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("cannot fetch the token public keys from %s: %s", self.url, exc)
            self._fetched_at = time.monotonic()

    def find(self, kid: str) -> Any | None:
        self._refresh(unknown_kid=False)
        key = self._keys.get(kid)
        if key is None:
            self._refresh(unknown_kid=True)
            key = self._keys.get(kid)
        return key


@lru_cache(maxsize=16)
def _key_source(path: Path, url: str, cache_seconds: float) -> PublicKeys:
    return JwksUrl(url, cache_seconds) if url else JwksFile(path)


def verification_keys(settings: Settings) -> PublicKeys:
    """Where this process finds the public keys: the JWKS URL when one is set, else the JWKS file."""
    return _key_source(settings.public_keys_path, settings.jwks_url, settings.jwks_cache_seconds)


# -- tokens -----------------------------------------------------------------------------------------


def issue_token(principal: Principal, settings: Settings, ttl_seconds: int | None = None) -> tuple[str, int]:
    """A signed token for ``principal`` (needs the private key: the gateway, and tests)."""
    ttl = ttl_seconds or settings.token_ttl_seconds
    key = read_signing_key(settings.signing_key_path)
    now = int(time.time())
    claims = {
        "sub": principal.username,
        "roles": list(principal.roles),
        "org_code": principal.org_code,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}), ttl


def decode_token(token: str, settings: Settings, keys: PublicKeys | None = None) -> Principal:
    """The principal of a token signed by a key of ``keys`` (default: this process's public keys)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is not valid", slug="invalid-token") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise Unauthorized("The token is not an EdDSA token naming its key", slug="invalid-token")
    public_key = (keys or verification_keys(settings)).find(kid)
    if public_key is None:
        raise Unauthorized("The token is signed by a key this network does not trust", slug="invalid-token")
    remembered = _verified.get((token, settings.jwt_issuer))
    if remembered is not None:
        principal, expires, verified_by = remembered
        if verified_by is public_key and time.time() < expires:
            return principal
        _verified.pop((token, settings.jwt_issuer), None)
    try:
        claims = jwt.decode(
            token,
            public_key,
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
    principal = Principal(
        username=str(claims["sub"]), roles=tuple(map(str, roles)), org_code=claims["org_code"]
    )
    _remember(token, public_key, settings.jwt_issuer, principal, float(claims["exp"]))
    return principal


# Verified tokens, so that a client's next request skips the signature check (a token is sent many
# times; an Ed25519 verification costs more than the rest of the check). Keyed by the token with the
# very key object that verified it: a key dropped from the trusted set is never honoured from here.
_VERIFIED_MAX = 4096
_verified: OrderedDict[tuple[str, str], tuple[Principal, float, Any]] = OrderedDict()


def _remember(token: str, key: Any, issuer: str, principal: Principal, expires: float) -> None:
    _verified[(token, issuer)] = (principal, expires, key)
    if len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_principal(request: Request) -> Principal:
    # async: a sync dependency would cost every request a hop to the thread pool and back
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required")
    return decode_token(token, get_settings())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(principal: Principal, *roles: str) -> None:
    if not principal.has(*roles):
        raise Forbidden(f"This action needs one of the roles: {', '.join(roles)}", slug="role-required")
