"""The routes that are public on purpose: every other route needs a token and keeps its caller inside
their jurisdiction, which the jurisdiction matrix (``tests/jurisdiction/matrix.py``) checks.

One list, each entry with its reason. Adding a route here takes it out of the matrix: do it only for
what a citizen or another system may read (or, for the rating, write) without an account.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublicRoute:
    method: str
    path: str  # the template, exactly as in the merged OpenAPI document
    reason: str
    # "openapi": an operation of the merged document; "outside": served beside it (the document
    # itself, Swagger UI); "planned": named public by the spine (ARCHITECTURE.md) but not built yet.
    where: str = "openapi"


PUBLIC_ROUTES: tuple[PublicRoute, ...] = (
    PublicRoute("POST", "/api/v1/auth/token", "where a caller gets a token: it cannot need one"),
    PublicRoute("GET", "/healthz", "probes of load balancers and monitors carry no token"),
    PublicRoute("GET", "/.well-known/jwks.json", "the public keys that verify tokens (JWKS): nothing secret"),
    PublicRoute("GET", "/api/v1/orgs", "the org directory is 政务公开 (ARCHITECTURE: no token)"),
    PublicRoute("GET", "/api/v1/orgs/{code}", "one unit of the public org directory"),
    PublicRoute(
        "GET", "/api/v1/catalogue/items", "the service catalogue is 政务公开: items offered at a unit"
    ),
    PublicRoute("GET", "/api/v1/catalogue/items/{item_code}", "an item's live version, public like the list"),
    PublicRoute(
        "GET",
        "/api/v1/catalogue/items/{item_code}/versions",
        "published versions are public; drafts need an admin",
    ),
    PublicRoute(
        "GET",
        "/api/v1/catalogue/items/{item_code}/versions/{version_no}",
        "a published version (the one a case was received under); drafts need an admin of its unit",
    ),
    PublicRoute(
        "GET", "/api/v1/catalogue/items/{item_code}/guide", "办事指南: what a citizen reads before coming"
    ),
    PublicRoute("GET", "/api/v1/catalogue/items/{item_code}/guide.html", "the printable 办事指南 page"),
    PublicRoute(
        "GET",
        "/api/v1/catalogue/directories/{county_code}/{level}",
        "a county's published directory is 政务公开",
    ),
    PublicRoute("GET", "/api/v1/catalogue/template.xlsx", "the blank import template documents the layout"),
    PublicRoute(
        "GET", "/api/v1/catalogue/export.xlsx", "every live item, the public catalogue as a spreadsheet"
    ),
    PublicRoute("GET", "/api/v1/catalogue/export.csv", "every live item, the public catalogue as CSV"),
    PublicRoute(
        "POST",
        "/api/v1/supervision/evaluations",
        "an applicant with no account rates with the receipt's evaluation code (the service checks it)",
    ),
    PublicRoute("GET", "/openapi.json", "the merged API description", where="outside"),
    PublicRoute("GET", "/docs", "Swagger UI over the merged description", where="outside"),
    PublicRoute("GET", "/docs/oauth2-redirect", "Swagger UI's OAuth2 redirect page", where="outside"),
    # The spine names two more public routes, not built yet: they join the document when they are.
    PublicRoute(
        "GET",
        "/api/v1/documents/{number}/verify",
        "a sealed document's masked content and seal check, for whoever holds the paper",
        where="planned",
    ),
    PublicRoute(
        "GET",
        "/progress/{token}",
        "the applicant's own view from the receipt's QR code (the token is the key)",
        where="planned",
    ),
)

PUBLIC: frozenset[tuple[str, str]] = frozenset((r.method, r.path) for r in PUBLIC_ROUTES)


def is_public(method: str, path: str) -> bool:
    return (method.upper(), path) in PUBLIC
