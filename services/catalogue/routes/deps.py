"""Dependencies the catalogue's routers share: the optional caller of a public read, ``If-Match``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from shared.auth import Principal, bearer_token, decode_token
from shared.settings import get_settings


def _optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    return decode_token(token, get_settings()) if token else None


# Public reads answer anyone; a caller who sends a token (an admin) may see more, e.g. drafts.
OptionalPrincipal = Annotated[Principal | None, Depends(_optional_principal)]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version this write is based on; a stale one is a 412, none a 428",
    ),
]
