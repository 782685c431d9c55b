"""Bad input stops at the windows' boundary: too many materials, oversized or invisible text, an
applicant's invalid name or phone are a 422 problem; nothing is stored and no event is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    DIBAO,
    TOWN,
    assert_problem,
    clerk,
    outbox,
    required,
    service_client,
    villager,
)

INVALID = "urn:weimin:problem:invalid-input"
TOO_MANY = [{"name": f"材料{n}"} for n in range(6003)]


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("intake-bounds")
    with service_client("intake", directory, nats_url, caller=clerk(TOWN), items=(DIBAO,)) as client:
        yield client


def _events(client: TestClient, type_: str, case_id: str | None = None) -> list[Any]:
    return client.portal.call(outbox, client.app.state.engine, type_, case_id)  # type: ignore[union-attr, attr-defined]


def _body(serial: str, **changes: Any) -> dict[str, Any]:
    applicant = villager(serial).model_dump() | changes.pop("applicant", {})
    return {"item_code": DIBAO.item_code, "applicant": applicant, "materials": []} | changes


def _cases(client: TestClient) -> int:
    return len(client.get("/api/v1/intake/cases", params={"limit": 200}).json()["items"])


def test_six_thousand_materials_are_refused(client: TestClient) -> None:
    before = (_cases(client), len(_events(client, "case.received")))
    for body in (
        _body("711", materials=TOO_MANY),
        _body("712", materials=[{"name": "材" * 201}]),
        _body("713", materials=[{"name": "申请书\u001b[2J"}]),
        _body("714", item_code="LY-MZ-001\u0000"),
        _body("715", applicant={"name": "张\u200b"}),
        _body("716", applicant={"name": "张" * 51}),
        _body("717", applicant={"phone": "1" * 1000}),
    ):
        assert_problem(client.post("/api/v1/intake/cases", json=body), 422, INVALID)
    assert (_cases(client), len(_events(client, "case.received"))) == before
    # At acceptance, too: the case stays as it was, with no notice and no acceptance announced.
    created = client.post("/api/v1/intake/cases", json=_body("718"))
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    accept = f"/api/v1/intake/cases/{case_id}/accept"
    assert_problem(client.post(accept, json={"materials": TOO_MANY}), 422, INVALID)
    assert client.get(f"/api/v1/intake/cases/{case_id}").json()["status"] == "received"
    assert _events(client, "case.notice_issued", case_id) == _events(client, "case.accepted", case_id) == []
    accepted = client.post(accept, json={"materials": [{"name": m} for m in required(DIBAO)]})
    assert accepted.json()["outcome"] == "accepted", accepted.text
