"""One OpenAPI 3.1 document for the whole network, and Swagger UI over it.

The gateway's own paths plus every service's, one tag per service. Components are merged by name; when
two services define different components under one name, the later one is renamed with its service's
prefix and its references rewritten. Built on first request and cached once all five services answered.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastapi_offline
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.body_limits import limit_for_route
from gateway.proxy import PUBLIC_READ_SEGMENTS, READ_METHODS
from shared.errors import PROBLEM_JSON, PROBLEM_SCHEMA
from shared.settings import SERVICE_NAMES, Settings

log = logging.getLogger("weimin.gateway.openapi")

router = APIRouter(include_in_schema=False)

FETCH_TIMEOUT = 5.0
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
SECURITY_SCHEME = "WeiminOAuth2"
TOKEN_URL = "/api/v1/auth/token"
MISSING_KEY = "x-weimin-missing"

DESCRIPTION = """
The public API of Weimin (为民), the four-level citizen-service network (city, county, town, village).

Everything goes through this gateway. The org directory and the service catalogue are public
(政务公开); every other call needs `Authorization: Bearer <token>` from `POST /api/v1/auth/token`.
Errors are `application/problem+json` (RFC 9457); every response carries `X-Request-ID`.
"""

Json = dict[str, Any]


def gateway_document(app: FastAPI) -> Json:
    """The gateway's own paths (token, me, healthz) with the security scheme every service path uses."""
    doc = get_openapi(
        title="Weimin (为民) API", version=app.version, description=DESCRIPTION, routes=app.routes
    )
    flows = {"tokenUrl": TOKEN_URL, "scopes": {}}
    doc.setdefault("components", {}).setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "oauth2",
        "description": "`password` for officers and agents, `client_credentials` for other systems",
        "flows": {"password": dict(flows), "clientCredentials": dict(flows)},
    }
    doc["security"] = [{SECURITY_SCHEME: []}]
    for path, item in doc.get("paths", {}).items():
        if path != "/api/v1/me":
            for operation in _operations(item):
                operation["security"] = []
    doc["tags"] = [
        {"name": "auth", "description": "Tokens, the keys that verify them, and the caller's identity"},
        {"name": "health", "description": "Whether the whole network answers"},
    ]
    return doc


def _operations(path_item: Json) -> Iterable[Json]:
    return (op for method, op in path_item.items() if method in HTTP_METHODS and isinstance(op, dict))


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _rewrite(node: Any, refs: dict[str, str]) -> Any:
    """A copy of ``node`` with every string equal to a renamed ref replaced ($ref and discriminator maps)."""
    if isinstance(node, dict):
        return {key: _rewrite(value, refs) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(value, refs) for value in node]
    if isinstance(node, str):
        return refs.get(node, node)
    return node


def _plan_renames(merged: Json, incoming: Json, service: str) -> dict[tuple[str, str], str]:
    """(section, name) -> new name for each of ``incoming``'s components that would clash in ``merged``."""
    clashing: set[tuple[str, str]] = set()
    for section, entries in incoming.items():
        existing = merged.get(section, {})
        clashing |= {(section, n) for n, v in entries.items() if n in existing and existing[n] != v}
    # A component identical to one already merged stops being identical when something it refers to is
    # renamed, so it must be renamed as well; repeat until nothing more moves.
    grew = bool(clashing)
    while grew:
        grew = False
        renamed_refs = {f"#/components/{s}/{n}" for s, n in clashing}
        for section, entries in incoming.items():
            for name, value in entries.items():
                key = (section, name)
                if key not in clashing and name in merged.get(section, {}) and _refs(value) & renamed_refs:
                    clashing.add(key)
                    grew = True
    renames: dict[tuple[str, str], str] = {}
    prefix = service.capitalize()
    for section, name in sorted(clashing):
        taken = set(merged.get(section, {})) | set(incoming.get(section, {}))
        new, n = f"{prefix}{name}", 2
        while new in taken:
            new, n = f"{prefix}{name}{n}", n + 1
        renames[(section, name)] = new
    return renames


def _is_public_read(path: str, method: str) -> bool:
    segment = path.removeprefix("/api/v1/").partition("/")[0]
    return path.startswith("/api/v1/") and segment in PUBLIC_READ_SEGMENTS and method.upper() in READ_METHODS


def merge_openapi(own: Json, services: dict[str, Json]) -> Json:
    """The gateway's document plus each service's paths (not their /healthz) and components."""
    merged = copy.deepcopy(own)
    paths: Json = merged.setdefault("paths", {})
    components: Json = merged.setdefault("components", {})
    tags: list[Json] = merged.setdefault("tags", [])
    for service, doc in services.items():
        incoming: Json = doc.get("components") or {}
        renames = _plan_renames(components, incoming, service)
        if renames:
            refs = {f"#/components/{s}/{old}": f"#/components/{s}/{new}" for (s, old), new in renames.items()}
            doc = _rewrite(doc, refs)
            incoming = doc.get("components") or {}
        schemes = {old: new for (s, old), new in renames.items() if s == "securitySchemes"}
        for section, entries in incoming.items():
            target = components.setdefault(section, {})
            for name, value in entries.items():
                target.setdefault(renames.get((section, name), name), value)
        for path, item in (doc.get("paths") or {}).items():
            if path == "/healthz":
                continue
            if path in paths:
                log.warning("OpenAPI path %s of %s is already defined; keeping the first", path, service)
                continue
            item = copy.deepcopy(item)
            for method, operation in item.items():
                if method not in HTTP_METHODS or not isinstance(operation, dict):
                    continue
                operation["tags"] = [service]
                if schemes and "security" in operation:
                    operation["security"] = [
                        {schemes.get(k, k): v for k, v in requirement.items()}
                        for requirement in operation["security"]
                    ]
                if _is_public_read(path, method):
                    operation["security"] = []
            paths[path] = item
        info = doc.get("info") or {}
        tags.append({"name": service, "description": info.get("description") or info.get("title") or service})
    return merged


def document_body_limits(doc: Json, settings: Settings) -> Json:
    """Every operation that takes a body also answers 413 past the gateway's limit for its route."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if (
                method not in HTTP_METHODS
                or not isinstance(operation, dict)
                or "requestBody" not in operation
            ):
                continue
            limit = limit_for_route(settings, method, path)
            operation.setdefault("responses", {}).setdefault(
                "413",
                {
                    "description": f"The body is larger than {limit} bytes (refused before it is read)",
                    "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
                },
            )
    return doc


async def _fetch(client: httpx.AsyncClient, base_url: str) -> Json | None:
    try:
        response = await client.get(f"{base_url}/openapi.json", timeout=FETCH_TIMEOUT)
        if response.status_code == 200:
            doc = response.json()
            if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
                return doc
    except (httpx.HTTPError, ValueError):
        pass
    return None


class MergedOpenAPI:
    """Builds the merged document lazily; keeps it only once every service has contributed."""

    def __init__(self, own: Json) -> None:
        self.own = own
        self._complete: Json | None = None

    async def document(self, client: httpx.AsyncClient, settings: Settings) -> Json:
        if self._complete is not None:
            return self._complete
        fetched = await asyncio.gather(
            *(_fetch(client, settings.service_url(name)) for name in SERVICE_NAMES)
        )
        answered = {name: doc for name, doc in zip(SERVICE_NAMES, fetched, strict=True) if doc is not None}
        merged = document_body_limits(merge_openapi(self.own, answered), settings)
        missing = [name for name in SERVICE_NAMES if name not in answered]
        if missing:
            merged[MISSING_KEY] = missing
        else:
            self._complete = merged
        return merged


@router.get("/openapi.json")
async def openapi_json(request: Request) -> JSONResponse:
    state = request.app.state
    return JSONResponse(await state.openapi.document(state.forwarder.client, state.settings))


# Swagger UI's assets are served from the package, not a CDN: halls on a government intranet
# (政务外网) often reach no public internet.
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Weimin (为民) API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
