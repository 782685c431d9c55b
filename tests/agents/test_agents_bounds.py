"""Bad input stops at the agents' boundary: an oversized or invisible delivery method, too many
materials, are a 422 problem; nothing is stored and no event is written (an event larger than NATS's
max payload would never reach anyone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.agents.models import AgentCase
from shared.db import session_scope
from tests.case_fixtures import (
    DIBAO,
    VILLAGE,
    agent,
    assert_problem,
    case_events,
    feed,
    outbox,
    required,
    service_client,
    villager,
)

INVALID = "urn:weimin:problem:invalid-input"


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("agents-bounds")
    with service_client("agents", directory, nats_url, caller=agent(VILLAGE), items=(DIBAO,)) as client:
        yield client


def _call(client: TestClient, work: Any, *args: Any) -> Any:
    return client.portal.call(work, client.app.state.engine, *args)  # type: ignore[union-attr, attr-defined]


def _collect(client: TestClient, serial: str, materials: list[dict[str, str]] | None = None) -> Any:
    body = {
        "item_code": DIBAO.item_code,
        "applicant": villager(serial).model_dump(),
        "materials": materials if materials is not None else [{"name": m} for m in required(DIBAO)],
    }
    return client.post("/api/v1/agents/cases", json=body)


def _decided_case(client: TestClient, serial: str) -> str:
    created = _collect(client, serial)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    decided = case_events(case_id, VILLAGE, item_code=DIBAO.item_code, accepted=False, decided=True)[-1]
    _call(client, feed, "agents", [decided])
    assert client.get(f"/api/v1/agents/cases/{case_id}").json()["status"] == "decided"
    return case_id


async def _case(engine: Any, case_id: str) -> AgentCase | None:
    async with session_scope(engine) as session:
        return await session.get(AgentCase, case_id)


def test_an_oversized_delivery_method_is_a_422(client: TestClient) -> None:
    case_id = _decided_case(client, "611")
    deliver = f"/api/v1/agents/cases/{case_id}/deliver"
    for method in ("x" * 100_000, "送" * 51, "当面\u202e送达", "当面\n送达", " "):
        assert_problem(client.post(deliver, json={"method": method}), 422, INVALID)
    assert_problem(client.post(deliver, json={"method": "agent", "note": "注" * 501}), 422, INVALID)
    # Nothing stored, nothing announced: the case still waits for its delivery.
    assert _call(client, _case, case_id).status == "decided"
    assert _call(client, outbox, "case.delivered", case_id) == []
    delivered = client.post(deliver, json={"method": "当面送达", "note": "本人签收"})
    assert delivered.status_code == 200, delivered.text
    assert len(_call(client, outbox, "case.delivered", case_id)) == 1


def _counts(client: TestClient) -> tuple[int, int]:
    listed = client.get("/api/v1/agents/cases", params={"limit": 200}).json()["items"]
    return len(listed), len(_call(client, outbox, "case.collected"))


def test_six_thousand_materials_are_refused(client: TestClient) -> None:
    before = _counts(client)
    too_many = [{"name": f"材料{n}"} for n in range(6003)]
    assert_problem(_collect(client, "612", too_many), 422, INVALID)
    assert_problem(_collect(client, "613", [{"name": "材" * 201}]), 422, INVALID)
    assert_problem(_collect(client, "614", [{"name": "户口簿\u0000"}]), 422, INVALID)
    assert _counts(client) == before, "a refused case was stored or announced"
