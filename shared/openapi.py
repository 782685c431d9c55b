"""The OpenAPI tells the truth: every status a route can answer is documented, with its content type.

Routes declare their own domain answers (``responses=problem_responses(...)``). What every route can
answer because of the framework around it is added here, once, for every operation of a service:

- 400 ``malformed-body``: a body that is not JSON (or not UTF-8) at all;
- 413: a body over the size limit; 422: a body or parameter that does not validate
  (FastAPI documents its own 422 as ``application/json``; ours is problem+json);
- 403 for every route that takes a token (it declares 401); 404 for every route with a path parameter.

Every error response is ``application/problem+json`` with the problem schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shared.errors import PROBLEM_JSON, PROBLEM_SCHEMA

DESCRIPTIONS = {
    400: "The body is not JSON (malformed or not UTF-8)",
    403: "Outside the caller's role or jurisdiction",
    404: "Not found (or outside the caller's jurisdiction)",
    413: "The body is larger than this route takes",
    422: "Invalid input: the problem's `errors` list every field",
}


def _problem(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[status], "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


def complete_responses(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the document lists every framework-made answer of every operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for _method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                statuses = []
                if "requestBody" in operation:
                    statuses += [400, 413]
                if operation.get("parameters") or "requestBody" in operation:
                    statuses.append(422)
                if "401" in responses:  # a route that takes a token: refused by role or jurisdiction too
                    statuses.append(403)
                if "{" in path:
                    statuses.append(404)
                for status in statuses:
                    documented = responses.get(str(status))
                    if documented is None or PROBLEM_JSON not in documented.get("content", {}):
                        responses[str(status)] = _problem(status)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
