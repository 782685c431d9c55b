"""The agents app over HTTP (its real lifespan, the test NATS): the boundary a mobile client meets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.identity_numbers import mask_id_number
from tests.case_fixtures import (
    DIBAO,
    MALFORMED_CASE_NUMBER,
    NEIGHBOUR_VILLAGE,
    VILLAGE,
    agent,
    assert_problem,
    bearer,
    case_number,
    mistyped,
    required,
    service_client,
    villager,
    wait_healthy,
)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("agents-http")
    with service_client("agents", directory, nats_url, caller=agent(VILLAGE), items=(DIBAO,)) as client:
        yield client


def test_no_token_is_a_401_problem(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    for reply in (
        client.get("/api/v1/agents/cases", headers=anonymous),
        client.post("/api/v1/agents/cases", json={}, headers=anonymous),
        client.get(f"/api/v1/agents/cases/{case_number(VILLAGE, 1)}", headers=anonymous),
    ):
        body = assert_problem(reply, 401, "urn:weimin:problem:unauthorized")
        assert reply.headers["www-authenticate"] == "Bearer" and body["detail"]
    assert_problem(
        client.get("/api/v1/agents/cases", headers={"Authorization": "Bearer not-a-token"}),
        401,
        "urn:weimin:problem:invalid-token",
    )


def test_malformed_case_number_is_a_422_not_a_lookup(client: TestClient) -> None:
    well_formed = case_number(VILLAGE, 999)
    for bad in (mistyped(well_formed), "not-a-case-number", well_formed.replace("-", "")):
        assert_problem(client.get(f"/api/v1/agents/cases/{bad}"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(client.post(f"/api/v1/agents/cases/{bad}/handoff"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(client.post(f"/api/v1/agents/cases/{bad}/deliver"), 422, MALFORMED_CASE_NUMBER)
    # A well-formed number that is not ours is looked up, and not found.
    assert_problem(
        client.get(f"/api/v1/agents/cases/{well_formed}"), 404, "urn:weimin:problem:case-not-found"
    )


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    given = client.get("/api/v1/agents/cases", headers={"X-Request-ID": "trace-me-42"})
    assert given.status_code == 200 and given.headers["x-request-id"] == "trace-me-42"
    for reply in (
        client.get("/api/v1/agents/cases"),
        client.get("/api/v1/agents/cases", headers={"Authorization": ""}),
        client.get("/api/v1/agents/cases/nonsense"),
        client.get("/healthz"),
    ):
        assert len(reply.headers["x-request-id"]) >= 16
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_healthz_is_200_with_nats_up(client: TestClient) -> None:
    reply = wait_healthy(client)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["outbox"] == {"pending": body["outbox"]["pending"], "dead_letters": 0}
    assert {k: v for k, v in body.items() if k != "outbox"} == {
        "service": "agents",
        "status": "ok",
        "checks": {"database": True, "nats": True},
    }


def test_id_number_masked_in_every_list_over_http(client: TestClient) -> None:
    applicant = villager("246")
    body = {
        "item_code": DIBAO.item_code,
        "applicant": applicant.model_dump(),
        "materials": [{"name": m} for m in required(DIBAO)],
    }
    # A wrong check digit is refused at the boundary.
    wrong = applicant.id_number[:-1] + ("0" if applicant.id_number[-1] != "0" else "1")
    refused = client.post(
        "/api/v1/agents/cases", json=body | {"applicant": applicant.model_dump() | {"id_number": wrong}}
    )
    assert_problem(refused, 422, "urn:weimin:problem:invalid-input")

    created = client.post("/api/v1/agents/cases", json=body)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert created.json() == {"case_id": case_id, "current_org": VILLAGE, "status": "collected"}
    listed = client.get("/api/v1/agents/cases")
    one = client.get(f"/api/v1/agents/cases/{case_id}")
    for reply in (listed, one):
        assert reply.status_code == 200
        assert applicant.id_number not in reply.text
        assert mask_id_number(applicant.id_number) in reply.text
    assert one.json()["applicant"] == {
        "name": "张*丰",
        "id_number": mask_id_number(applicant.id_number),
        "phone": "138****5678",
    }
    # Another village's agent gets nothing.
    stranger = bearer(agent(NEIGHBOUR_VILLAGE))
    assert_problem(client.get(f"/api/v1/agents/cases/{case_id}", headers=stranger), 404)
    assert client.get("/api/v1/agents/cases", headers=stranger).json()["items"] == []
