"""What the catalogue's routers share: the optional caller of a public read, and ``If-Match`` /
``ETag``, the HTTP form of the versions a write is based on (``services.catalogue.preconditions``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response

from services.catalogue.preconditions import ANY_VERSION, BasedOn
from shared.auth import Principal, bearer_token, decode_token
from shared.settings import get_settings


async def _optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    return decode_token(token, get_settings()) if token else None


# Public reads answer anyone; a caller who sends a token (an admin) may see more, e.g. drafts.
OptionalPrincipal = Annotated[Principal | None, Depends(_optional_principal)]


async def _based_on(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1000,
            description="The ETag of the version this write is based on; a stale one is a 412, none a 428",
        ),
    ] = None,
) -> BasedOn | None:
    """``If-Match`` (RFC 9110: a list of strong ETags, or ``*``) as the versions a write is based on."""
    if not if_match or not if_match.strip():
        return None
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    return ANY_VERSION if "*" in tags else BasedOn.tag(*tags)


IfMatch = Annotated[BasedOn | None, Depends(_based_on)]


def set_etag(response: Response, tag: str) -> None:
    response.headers["ETag"] = tag
