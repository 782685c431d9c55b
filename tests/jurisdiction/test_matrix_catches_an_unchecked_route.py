"""The jurisdiction matrix must catch a route that forgets the check, and pass the ones that keep it.

One service app in-process (agents), a planted route that returns a case to any authenticated caller,
one seeded case: the matrix walks the app's own OpenAPI document through the TestClient.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from services.agents.models import AgentCase
from shared.auth import CurrentPrincipal, Principal, issue_token
from shared.db import SessionDep
from shared.errors import NotFound
from shared.settings import get_settings
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    TOWN,
    VILLAGE,
    agent,
    bearer,
    case_number,
    required,
    service_client,
    villager,
)
from tests.jurisdiction import matrix

CITY = "371400000000"
PLANTED = "/api/v1/agents/cases/{case_id}/planted"
PLANTED_LIST = "/api/v1/agents/planted-cases"


async def _planted(case_id: str, principal: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """A read that authenticates its caller and forgets the jurisdiction: the bug the matrix hunts."""
    case = await session.get(AgentCase, case_id)
    if case is None:
        raise NotFound(f"No case {case_id}")
    return {"case_id": case.case_id, "village_code": case.village_code, "status": case.status}


@pytest.fixture
def agents_with_a_case(tmp_path: Path, nats_url: str) -> Iterator[tuple[TestClient, str]]:
    # As the catalogue publishes it: an item of 临邑县's catalogue, offered only inside the county.
    item = DIBAO.model_copy(update={"owner_org": COUNTY})
    with service_client("agents", tmp_path / "var", nats_url, items=(item,)) as client:
        body = {
            "item_code": DIBAO.item_code,
            "applicant": villager().model_dump(),
            "materials": [{"name": m} for m in required(DIBAO)],
        }
        collected = client.post("/api/v1/agents/cases", json=body, headers=bearer(agent(VILLAGE)))
        assert collected.status_code == 201, collected.text
        yield client, collected.json()["case_id"]


async def _planted_list(principal: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """A list that authenticates its caller and forgets to scope its query."""
    cases = (await session.exec(select(AgentCase))).all()
    return {"items": [{"case_id": c.case_id} for c in cases], "next_cursor": None}


def _walk(client: TestClient, case_id: str) -> matrix.Report:
    def call(method: str, path: str, token: str | None, body: Any) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = client.request(method, path, headers=headers, json=body)
        return reply.status_code, reply.text

    def token_for(role: str, org_code: str) -> str:
        return issue_token(Principal(f"{role}-{org_code}", (role,), org_code), get_settings())[0]

    document = client.get("/openapi.json").json()
    case = matrix.resource(case_id, VILLAGE, TOWN, COUNTY, CITY)
    return matrix.run(
        document,
        call,
        token_for,
        fills={"case_id": case},
        seeded=[case_id, villager().id_number],
        bodies=matrix.spine_bodies(DIBAO.item_code),
    )


def _plant(app: FastAPI) -> None:
    app.add_api_route(PLANTED, _planted, methods=["GET"])
    app.add_api_route(PLANTED_LIST, _planted_list, methods=["GET"])
    app.openapi_schema = None  # the document is rebuilt with the planted route in it


def test_routes_returning_a_case_to_any_caller_are_reported_for_every_outside_role(
    agents_with_a_case: tuple[TestClient, str],
) -> None:
    client, case_id = agents_with_a_case
    _plant(client.app)  # type: ignore[arg-type]
    report = _walk(client, case_id)

    assert {f"GET {PLANTED}", f"GET {PLANTED_LIST}"} <= set(report.operations)
    planted = [v for v in report.violations if v.startswith(f"GET {PLANTED} ")]
    # Every role at every outside level read the case: 6 roles × 4 units.
    outsiders = {(r, u) for r in matrix.ROLES for u in matrix.OUTSIDE_UNITS.values()}
    assert {
        (r, u) for r, u in outsiders if any(f"as {r} of {u} (outside)" in v for v in planted)
    } == outsiders
    assert all("answered 200" in v for v in planted), planted
    # The unscoped list answers 200 to everyone, as a scoped one does: the seeded case in it gives it away.
    listed = [v for v in report.violations if v.startswith(f"GET {PLANTED_LIST} ")]
    assert len(listed) == len(outsiders) and all(f"with seeded {case_id}" in v for v in listed), listed


def test_the_agents_service_keeps_every_outside_role_out_of_its_routes(
    agents_with_a_case: tuple[TestClient, str],
) -> None:
    client, case_id = agents_with_a_case
    report = _walk(client, case_id)

    assert {
        "GET /api/v1/agents/cases",
        "POST /api/v1/agents/cases",
        "GET /api/v1/agents/cases/{case_id}",
        "POST /api/v1/agents/cases/{case_id}/handoff",
        "POST /api/v1/agents/cases/{case_id}/deliver",
    } <= set(report.operations), report.operations
    assert report.violations == [], "\n".join(report.violations)


def test_a_read_no_inside_caller_can_make_is_reported_as_a_vacuous_fill(
    agents_with_a_case: tuple[TestClient, str],
) -> None:
    client, _ = agents_with_a_case
    # A well-formed number of a case nobody collected: every caller gets 404, so nothing is proven.
    report = _walk(client, case_number(VILLAGE, 999))
    vacuous = [v for v in report.violations if "the fill table names nothing there" in v]
    assert any(v.startswith("GET /api/v1/agents/cases/{case_id}:") for v in vacuous), report.violations
