"""How large a request body the gateway accepts, per route (``shared.middleware.BodyLimitMiddleware``
refuses a larger one with 413 before reading it).

- ``POST /api/v1/catalogue/imports`` (the spreadsheet upload): ``max_upload_bytes``, 10 MiB;
- ``PUT /api/v1/catalogue/items/{item_code}/draft`` and
  ``PUT /api/v1/catalogue/directories/{county}/{level}/draft``: ``max_document_bytes``, 1 MiB;
- every other route (JSON bodies, the token form): ``max_body_bytes``, 64 KiB.

The services refuse bodies over ``max_document_bytes`` (``max_upload_bytes`` for multipart) on their
own, so a caller that reaches a service directly cannot send more either.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.types import Scope

from shared.settings import Settings

_SEGMENT = r"[^/]+"
# (method, path pattern, the Settings field that bounds its body); the first match wins.
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/api/v1/catalogue/imports"), "max_upload_bytes"),
    ("PUT", re.compile(rf"/api/v1/catalogue/items/{_SEGMENT}/draft"), "max_document_bytes"),
    ("PUT", re.compile(rf"/api/v1/catalogue/directories/{_SEGMENT}/{_SEGMENT}/draft"), "max_document_bytes"),
)
DEFAULT = "max_body_bytes"


def limit_for_route(settings: Settings, method: str, path: str) -> int:
    """The body limit of ``method path`` (a concrete path, or an OpenAPI path template)."""
    for route_method, pattern, field in ROUTES:
        if method.upper() == route_method and pattern.fullmatch(path):
            return int(getattr(settings, field))
    return int(getattr(settings, DEFAULT))


def gateway_body_limit(settings: Settings) -> Callable[[Scope], int]:
    default = int(getattr(settings, DEFAULT))
    methods = {method for method, _, _ in ROUTES}

    def limit_for(scope: Scope) -> int:
        if scope["method"] not in methods:  # the common case costs one set lookup
            return default
        return limit_for_route(settings, scope["method"], scope["path"])

    return limit_for
