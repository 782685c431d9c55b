"""Tokens (OAuth2 ``password`` and ``client_credentials`` grants) and ``/me``.

Errors keep the problem+json shape everywhere; token errors also carry RFC 6749's ``error`` code so
a stock OAuth2 client understands them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from gateway import accounts, keys
from gateway.schemas import JwksRead, MeRead, TokenRead, TokenRequest
from gateway.throttle import LoginThrottle
from shared.auth import CurrentPrincipal, Principal, issue_token
from shared.db import SessionDep
from shared.errors import WeiminError, problem_responses
from shared.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["auth"])
# Served at the root, where OpenID Connect and most JWT libraries look for it.
well_known = APIRouter(tags=["auth"])


class InvalidTokenRequest(WeiminError):
    status, slug, title = 400, "invalid-request", "Invalid token request"


TOKEN_DESCRIPTION = """
OAuth2 token endpoint (RFC 6749), `application/x-www-form-urlencoded`.

* `grant_type=password` with `username` and `password`: officers (clerks, approvers, supervisors,
  admins) and village agents.
* `grant_type=client_credentials` with `client_id` and `client_secret`, in the form or as HTTP Basic
  authentication: other government systems.

The answer is a JWT signed with EdDSA (Ed25519), carrying `sub`, `roles`, `org_code` and the
expiry; its header's `kid` names the key in `/.well-known/jwks.json`. Send it as
`Authorization: Bearer <access_token>` on every call that is not public.

Failed attempts are throttled per account (username or client id) and per client address, with
lock-outs that grow as failures pile up: while locked, every attempt, even with the right secret, is
a 429 problem with `Retry-After` (seconds). A success clears the account's failures.
"""

TOKEN_RESPONSES = problem_responses(400, 401, 413, 429)
TOKEN_RESPONSES[413]["description"] = "The form is larger than the gateway accepts"
TOKEN_RESPONSES[429]["description"] = (
    "Too many failed attempts for this account or address: locked for a while"
)
TOKEN_RESPONSES[429]["headers"] = {
    "Retry-After": {
        "description": "seconds until the next attempt may succeed",
        "schema": {"type": "integer"},
    }
}


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def _address(request: Request) -> str:
    # The peer, or the client a trusted proxy names (uvicorn's --forwarded-allow-ips): never a bare
    # X-Forwarded-For, which a guesser could vary at will.
    return request.client.host if request.client else "unknown"


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidTokenRequest("Malformed HTTP Basic credentials", error="invalid_request") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidTokenRequest("Malformed HTTP Basic credentials", error="invalid_request")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


async def _password_grant(form: TokenRequest, request: Request, session: SessionDep) -> Principal:
    if not form.username or form.password is None:
        raise InvalidTokenRequest("The password grant needs username and password", error="invalid_request")
    async with _throttle(request).attempt(
        f"user:{form.username}", _address(request), failures=(accounts.InvalidCredentials,)
    ):
        user = await accounts.authenticate_user(session, username=form.username, password=form.password)
    return accounts.user_principal(user)


async def _client_credentials_grant(form: TokenRequest, request: Request, session: SessionDep) -> Principal:
    basic = _basic_credentials(request)
    if basic is not None and (form.client_id or form.client_secret):
        raise InvalidTokenRequest(
            "Send client credentials either as HTTP Basic or in the form, not both", error="invalid_request"
        )
    client_id, secret = basic or (form.client_id, form.client_secret)
    if not client_id or secret is None:
        raise InvalidTokenRequest(
            "The client_credentials grant needs client_id and client_secret", error="invalid_request"
        )
    async with _throttle(request).attempt(
        f"client:{client_id}", _address(request), failures=(accounts.InvalidCredentials,)
    ):
        client = await accounts.authenticate_client(session, client_id=client_id, client_secret=secret)
    return accounts.client_principal(client)


@router.post(
    "/auth/token",
    summary="Exchange credentials for an access token",
    description=TOKEN_DESCRIPTION,
    response_model=TokenRead,
    responses=TOKEN_RESPONSES,
)
async def token(
    form: Annotated[TokenRequest, Form()], request: Request, response: Response, session: SessionDep
) -> TokenRead:
    # argon2 is deliberately slow: ``accounts`` runs it in worker threads, never on the event loop.
    if form.grant_type == "password":
        principal = await _password_grant(form, request, session)
    elif form.grant_type == "client_credentials":
        principal = await _client_credentials_grant(form, request, session)
    elif not form.grant_type:
        raise InvalidTokenRequest("grant_type is required", error="invalid_request")
    else:
        raise InvalidTokenRequest(
            f"Unsupported grant_type {form.grant_type!r}",
            slug="unsupported-grant-type",
            error="unsupported_grant_type",
        )
    access_token, ttl = issue_token(principal, get_settings())
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenRead(access_token=access_token, expires_in=ttl)


@router.get(
    "/me",
    summary="Who the token belongs to",
    description="The caller's username, roles and unit (`org_code`), read from the bearer token.",
    response_model=MeRead,
    responses=problem_responses(401),
)
async def me(principal: CurrentPrincipal) -> MeRead:
    return MeRead(username=principal.username, roles=list(principal.roles), org_code=principal.org_code)


@well_known.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify tokens (JWKS)",
    description="Public, no token. The key signing new tokens comes first; after a rotation the previous "
    "key stays until its tokens have expired. Services verify tokens with these keys alone.",
    response_model=JwksRead,
)
async def jwks(request: Request) -> JSONResponse:
    published = keys.read_jwks(request.app.state.settings.public_keys_path)
    return JSONResponse({"keys": published}, headers={"Cache-Control": "public, max-age=60"})
