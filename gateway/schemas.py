"""The gateway's own request and response bodies (the token endpoint and ``/me``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenRequest(BaseModel):
    """OAuth2 token request (RFC 6749), form-encoded. Which fields apply depends on ``grant_type``."""

    grant_type: str | None = Field(None, description="`password` or `client_credentials`")
    username: str | None = Field(None, description="password grant: the officer's or agent's username")
    password: str | None = Field(None, description="password grant: the password")
    client_id: str | None = Field(None, description="client_credentials: the client id (or use HTTP Basic)")
    client_secret: str | None = Field(None, description="client_credentials: the secret (or use HTTP Basic)")
    scope: str | None = Field(None, description="ignored: a token carries the account's roles")


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class MeRead(BaseModel):
    username: str
    roles: list[str]
    org_code: str = Field(description="12-digit division code of the caller's unit; their jurisdiction")


class JwkRead(BaseModel):
    """One public key (RFC 8037 OKP JWK); ``kid`` is its RFC 7638 thumbprint, named in tokens' headers."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="the public key, base64url")
    kid: str
    use: Literal["sig"] = "sig"
    alg: Literal["EdDSA"] = "EdDSA"


class JwksRead(BaseModel):
    """The keys that verify Weimin tokens: the signing key first, then any kept for a rotation's overlap."""

    keys: list[JwkRead]
