"""Every input of every service is bounded, as its OpenAPI says: each string a caller sends (body,
query, path, header) has a maxLength, or an enum, a finite pattern or a format that bounds it; each
array a maxItems; each number a maximum. A new unbounded field fails here, before a 1 MB delivery
``method`` or 6,003 materials make an event too large for NATS ever to carry."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from shared.settings import SERVICE_NAMES

Json = dict[str, Any]
METHODS = ("get", "put", "post", "patch", "delete")
# Formats whose values are bounded by their grammar, or (``binary``) by the route's upload limit.
BOUNDED_FORMATS = frozenset({"date", "date-time", "time", "uuid", "binary"})
# An uploaded file (OpenAPI 3.1 writes it as a string with a ``contentMediaType``): bounded by its
# route, which reads at most its documented limit, and by the gateway's body limit.
# A repetition without an upper bound: *, +, {n,}
UNBOUNDED_REPETITION = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _documents() -> Iterator[tuple[str, Json]]:
    for name in SERVICE_NAMES:
        module = importlib.import_module(f"services.{name}.main")
        yield name, module.app.openapi()


DOCUMENTS = dict(_documents())


def _resolve(node: Any, document: Json) -> Any:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return node


def _finite_pattern(pattern: str) -> bool:
    return pattern.startswith("^") and pattern.endswith("$") and not UNBOUNDED_REPETITION.search(pattern)


def unbounded(schema: Any, document: Json, where: str, depth: int = 0) -> list[str]:
    """Every place under ``schema`` a caller could send more than a bounded amount."""
    schema = _resolve(schema, document)
    if not isinstance(schema, dict) or depth > 30:
        return []
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for n, part in enumerate(schema.get(key) or []):
            found += unbounded(part, document, f"{where}|{key}[{n}]", depth + 1)
    if "enum" in schema or "const" in schema:
        return found
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "string" in kinds:
        pattern = schema.get("pattern")
        if not (
            "maxLength" in schema
            or schema.get("format") in BOUNDED_FORMATS
            or "contentMediaType" in schema
            or (isinstance(pattern, str) and _finite_pattern(pattern))
        ):
            found.append(f"{where}: string without maxLength")
    if kinds & {"integer", "number"} and "maximum" not in schema and "exclusiveMaximum" not in schema:
        found.append(f"{where}: number without maximum")
    if "array" in kinds:
        if "maxItems" not in schema:
            found.append(f"{where}: array without maxItems")
        found += unbounded(schema.get("items", {}), document, f"{where}[]", depth + 1)
    if "object" in kinds or "properties" in schema:
        for prop, sub in (schema.get("properties") or {}).items():
            found += unbounded(sub, document, f"{where}.{prop}", depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) or extra is True:
            if "maxProperties" not in schema:
                found.append(f"{where}: object with free keys and no maxProperties")
            if isinstance(extra, dict):
                found += unbounded(extra, document, f"{where}{{*}}", depth + 1)
    return found


def inputs(document: Json) -> Iterator[tuple[str, Any]]:
    """(where, schema) for every request body and parameter of every operation."""
    for path, item in sorted((document.get("paths") or {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            name = f"{method.upper()} {path}"
            for param in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
                param = _resolve(param, document)
                yield f"{name} {param.get('in')} {param.get('name')}", param.get("schema", {})
            body = _resolve(operation.get("requestBody") or {}, document)
            for media, content in (body.get("content") or {}).items():
                yield f"{name} body ({media})", content.get("schema", {})


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_every_input_of_every_service_is_bounded(service: str) -> None:
    document = DOCUMENTS[service]
    found = [problem for where, schema in inputs(document) for problem in unbounded(schema, document, where)]
    assert found == [], f"{service}: {len(found)} unbounded inputs:\n" + "\n".join(found)


def test_the_bounds_check_catches_an_unbounded_field() -> None:
    """The walker itself: what it must flag, and what it must let through."""
    document: Json = {
        "components": {
            "schemas": {
                "Body": {
                    "type": "object",
                    "properties": {
                        "method": {"type": "string"},
                        "materials": {"type": "array", "items": {"$ref": "#/components/schemas/M"}},
                        "note": {"anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]},
                        "code": {"type": "string", "pattern": "^[0-9]{12}$"},
                        "loose": {"type": "string", "pattern": "^[A-Z]*$"},
                        "rating": {"type": "integer", "minimum": 1},
                        "level": {"type": "string", "enum": ["town", "village"]},
                    },
                },
                "M": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 200}}},
            }
        }
    }
    found = unbounded({"$ref": "#/components/schemas/Body"}, document, "body")
    assert sorted(found) == [
        "body.loose: string without maxLength",
        "body.materials: array without maxItems",
        "body.method: string without maxLength",
        "body.rating: number without maximum",
    ]
