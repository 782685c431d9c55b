"""The jurisdiction matrix: every route of an OpenAPI document, every role, from outside and inside.

The rule (``../shared/ARCHITECTURE.md``, ``shared/jurisdiction.py``): a caller sees and acts on cases
and unit-scoped resources only inside the subtree of their ``org_code``; outside answers 404 (as
unknown) or 403, never data. This module checks it from the outside, through HTTP only, so it holds
for any service and for the gateway in front of them:

- the operations come ONLY from the document: a new route is covered without anyone listing it; the
  deliberately public ones are excluded by ``tests/jurisdiction/public_routes.py``;
- no token: 401;
- each role at a unit of another county (one per level): a path naming a seeded resource never
  answers 2xx; a write never answers 2xx; a list may answer 2xx, without any seeded identifier in it;
- a read of a seeded resource answers 2xx to at least one caller inside (the resource's own unit or
  one above it, any role): otherwise the fill table names nothing and the check above is vacuous.

Writes are sent with plausible bodies (``spine_bodies`` for the spine's writes, else one built from
the operation's request schema), so that body validation does not answer 422 before the jurisdiction
check runs. Where it still does, the report lists the operation as weak rather than passing silently.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from shared.auth import Role
from shared.identity_numbers import make_valid_id_number
from tests.jurisdiction.public_routes import PUBLIC

Json = dict[str, Any]
# call(method, path with query string, bearer token or None, JSON body or None) -> (status, text)
Call = Callable[[str, str, str | None, Any], tuple[int, str]]
# token_for(role, org_code) -> a bearer token for that principal
TokenFactory = Callable[[str, str], str]

ROLES: tuple[str, ...] = tuple(role.value for role in Role)
# Another county altogether, one unit per level: 云南省昆明市 / 嵩明县 / 小街镇 / one of its villages.
OUTSIDE_UNITS: Mapping[str, str] = {
    "village": "530127102201",
    "town": "530127102000",
    "county": "530127000000",
    "city": "530100000000",
}
METHODS = ("get", "put", "post", "patch", "delete")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A 403 that comes from the jurisdiction check (``shared.jurisdiction.require_governs``); a 404 is one
# (``governed_or_404``: outside = unknown). Any other refusal (a role, a body, a precondition) came first.
JURISDICTION_REFUSALS = frozenset({"outside-jurisdiction"})
PROBLEM_BASE = "urn:weimin:problem:"
SNIPPET = 160


@dataclass(frozen=True)
class Fill:
    """A value for a path (or query) parameter. ``units``: the seeded resource's own unit and the
    units above it, where an inside caller sits; empty for a plain value (a level, a version)."""

    value: str
    units: tuple[str, ...] = ()


def resource(value: str, *units: str) -> Fill:
    return Fill(value, units)


def plain(value: str) -> Fill:
    return Fill(value)


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    # Operations where no outsider's call reached a jurisdiction check (every one refused first by
    # role, body or precondition), and lists nobody inside sees anything seeded in: not violations,
    # but not proof either.
    weak: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    calls: int = 0


def spine_bodies(item_code: str) -> dict[tuple[str, str], Any]:
    """Bodies for the spine's writes (ARCHITECTURE.md, the API spine), valid down to the 身份证号."""
    submission = {
        "item_code": item_code,
        "applicant": {
            "name": "李四",
            "id_number": make_valid_id_number("530127", date(1961, 5, 20), "617"),
            "phone": "13912345678",
        },
        "materials": [],
    }
    return {
        ("POST", "/api/v1/agents/cases"): submission,
        ("POST", "/api/v1/intake/cases"): submission,
        ("POST", "/api/v1/intake/cases/{case_id}/accept"): {"materials": []},
        ("POST", "/api/v1/intake/cases/{case_id}/not-accept"): {"reason": "x", "legal_basis": "x"},
        ("POST", "/api/v1/approval/cases/{case_id}/decision"): {"outcome": "approved", "reason": "x"},
        ("POST", "/api/v1/agents/cases/{case_id}/deliver"): {"method": "agent"},
    }


# ------------------------------------------------------------------------------------ the document


def operations(document: Json) -> list[tuple[str, str, Json, list[Json]]]:
    """(METHOD, path template, operation, parameters) for every operation of the document."""
    found = []
    for path, item in sorted((document.get("paths") or {}).items()):
        shared_params = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                params = [
                    _resolve(p, document) for p in [*shared_params, *(operation.get("parameters") or [])]
                ]
                found.append((method.upper(), path, operation, params))
    return found


def _resolve(node: Any, document: Json) -> Any:
    """Follow ``$ref`` (keeping the referring node's siblings, as pydantic writes them)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return node


def example(
    schema: Any, document: Json, fills: Mapping[str, Fill], name: str | None = None, depth: int = 0
) -> Any:
    """A minimal value the schema accepts: required properties only, type-appropriate values,
    a fill table value for a property named like a filled parameter."""
    schema = _resolve(schema, document)
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if "allOf" in schema:
        merged: Json = {}
        for part in schema["allOf"]:
            part = _resolve(part, document)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged.setdefault("required", []).extend(part.get("required", []))
            merged.setdefault("type", part.get("type"))
        return example({**merged, "type": "object"}, document, fills, name, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(o, document) for o in schema[key]]
            chosen = next((o for o in options if o.get("type") != "null"), options[0] if options else {})
            return example(chosen, document, fills, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            prop: example(properties.get(prop, {}), document, fills, prop, depth + 1)
            for prop in schema.get("required") or []
        }
    if kind == "array":
        item = example(schema.get("items", {}), document, fills, None, depth + 1)
        return [item] * int(schema.get("minItems", 0))
    if kind == "integer" or kind == "number":
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1
        )
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        return _string(schema, fills, name)
    return None


def _string(schema: Json, fills: Mapping[str, Fill], name: str | None) -> str:
    pattern = schema.get("pattern")
    candidates = [fills[name].value] if name in fills else []
    candidates += [f.value for f in fills.values()]
    fmt = schema.get("format")
    if fmt == "date":
        return date.today().isoformat()
    if fmt == "date-time":
        return datetime.now(UTC).isoformat()
    if pattern:
        for candidate in [*candidates, "x", "X1", "1", "0" * 12, "371424000000"]:
            if re.search(pattern, candidate):
                return candidate
    elif name in fills:
        return fills[name].value
    return "x" * max(1, int(schema.get("minLength", 1)))


def _body(
    method: str, path: str, operation: Json, document: Json, fills: Mapping[str, Fill], bodies: Mapping
) -> tuple[Any, str | None]:
    """The body to send, and why it may not pass validation (None when it should)."""
    if (method, path) in bodies:
        return bodies[(method, path)], None
    request = _resolve(operation.get("requestBody"), document)
    if not isinstance(request, dict):
        return None, None
    content = request.get("content") or {}
    if "application/json" in content:
        return example(content["application/json"].get("schema", {}), document, fills), None
    kinds = ", ".join(sorted(content)) or "no content type"
    return None, f"its body is {kinds}, which the matrix does not send"


def _url(path: str, params: list[Json], fills: Mapping[str, Fill], document: Json) -> str:
    url = re.sub(r"{([^}]+)}", lambda m: quote(fills[m.group(1)].value, safe=""), path)
    query = {}
    for param in params:
        if param.get("in") != "query":
            continue
        if param["name"] in fills:
            query[param["name"]] = fills[param["name"]].value
        elif param.get("required"):
            query[param["name"]] = str(example(param.get("schema", {}), document, fills, param["name"]))
    return f"{url}?{urlencode(query)}" if query else url


def _problem_kind(text: str) -> str:
    """The problem type's slug of an application/problem+json answer ("" for anything else)."""
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.removeprefix(PROBLEM_BASE) if isinstance(kind, str) else ""


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


# ---------------------------------------------------------------------------------------- the walk


def run(
    document: Json,
    call: Call,
    token_for: TokenFactory,
    fills: Mapping[str, Fill],
    seeded: Iterable[str],
    *,
    bodies: Mapping[tuple[str, str], Any] | None = None,
    public: frozenset[tuple[str, str]] = PUBLIC,
    outside_units: Mapping[str, str] = OUTSIDE_UNITS,
    roles: tuple[str, ...] = ROLES,
) -> Report:
    """Walk every non-public operation of ``document``; the report lists every violation."""
    report = Report()
    seeded = [s for s in seeded if s]
    bodies = bodies or {}
    insiders = list(dict.fromkeys(unit for fill in fills.values() for unit in fill.units))
    tokens: dict[tuple[str, str], str] = {}

    def token(role: str, unit: str) -> str:
        if (role, unit) not in tokens:
            tokens[(role, unit)] = token_for(role, unit)
        return tokens[(role, unit)]

    def send(method: str, url: str, bearer: str | None, body: Any) -> tuple[int, str]:
        report.calls += 1
        return call(method, url, bearer, body)

    for method, path, operation, params in operations(document):
        if (method, path) in public:
            continue
        label = f"{method} {path}"
        report.operations.append(label)
        names = re.findall(r"{([^}]+)}", path)
        unfilled = [n for n in names if n not in fills]
        if unfilled:
            report.violations.append(
                f"{label}: no fill for path parameter {', '.join(unfilled)}: the matrix cannot reach it "
                "(add the parameter to the fill table, with a seeded value)"
            )
            continue
        url = _url(path, params, fills, document)
        body, unsendable = _body(method, path, operation, document, fills, bodies)
        named = [fills[n] for n in names if fills[n].units]

        status, text = send(method, url, None, body)
        if status != 401:
            report.violations.append(f"{label} without a token answered {status}, not 401: {_snippet(text)}")

        answers: Counter[str] = Counter()
        reached = exposed = False
        for role in roles:
            for unit in outside_units.values():
                status, text = send(method, url, token(role, unit), body)
                caller = f"{role} of {unit} (outside)"
                kind = _problem_kind(text)
                answers[f"{status} {kind}".strip()] += 1
                reached = reached or status == 404 or (status == 403 and kind in JURISDICTION_REFUSALS)
                if status >= 500:
                    report.violations.append(f"{label} as {caller} answered {status}: {_snippet(text)}")
                elif 200 <= status < 300:
                    exposed = True
                    if method in WRITES:
                        report.violations.append(
                            f"{label} as {caller}: a write outside the jurisdiction answered {status}: "
                            f"{_snippet(text)}"
                        )
                    elif named:
                        report.violations.append(
                            f"{label} as {caller}: a seeded resource outside the jurisdiction answered "
                            f"{status}: {_snippet(text)}"
                        )
                    else:
                        leaked = [s for s in seeded if s in text]
                        if leaked:
                            report.violations.append(
                                f"{label} as {caller}: the list answered {status} with seeded "
                                f"{', '.join(leaked)}: {_snippet(text)}"
                            )
        if not reached and not exposed:
            seen = ", ".join(f"{a} ×{n}" for a, n in sorted(answers.items()))
            why = f"; {unsendable}" if unsendable else ""
            report.weak.append(f"{label}: no outsider's call reached a jurisdiction check ({seen}{why})")

        if method == "GET" and not named and exposed and insiders:
            # A list is checked by what it shows: an inside caller must see something seeded in it,
            # or the outsiders' empty answers prove nothing.
            if not any(
                any(s in send(method, url, token(role, unit), None)[1] for s in seeded)
                for unit in insiders
                for role in roles
            ):
                report.weak.append(
                    f"{label}: no caller inside sees anything seeded in it, so its scan proves little"
                )

        if method == "GET" and named:
            inside = list(dict.fromkeys(unit for fill in named for unit in fill.units))
            if not any(
                200 <= send(method, url, token(role, unit), None)[0] < 300
                for unit in inside
                for role in roles
            ):
                values = ", ".join(f"{n}={fills[n].value}" for n in names)
                report.violations.append(
                    f"{label}: no caller inside ({', '.join(inside)}; any role) gets a 2xx for {values}: "
                    "the fill table names nothing there, so the outside checks prove nothing"
                )
    return report


def check(
    document: Json,
    call: Call,
    token_for: TokenFactory,
    fills: Mapping[str, Fill],
    seeded: Iterable[str],
    **options: Any,
) -> list[str]:
    """The violations only (see ``run``)."""
    return run(document, call, token_for, fills, seeded, **options).violations
