"""The intake app over HTTP (its real lifespan, the test NATS): what a window's client meets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    DIBAO,
    MALFORMED_CASE_NUMBER,
    TOWN,
    assert_problem,
    case_number,
    clerk,
    mistyped,
    service_client,
    villager,
    wait_healthy,
)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("intake-http")
    with service_client("intake", directory, nats_url, caller=clerk(TOWN), items=(DIBAO,)) as client:
        yield client


def test_no_token_is_a_401_problem(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    number = case_number(TOWN, 1)
    for reply in (
        client.get("/api/v1/intake/cases", headers=anonymous),
        client.post("/api/v1/intake/cases", json={}, headers=anonymous),
        client.post(f"/api/v1/intake/cases/{number}/accept", json={"materials": []}, headers=anonymous),
        client.get(f"/api/v1/intake/cases/{number}/receipt", headers=anonymous),
    ):
        assert_problem(reply, 401, "urn:weimin:problem:unauthorized")


def test_malformed_case_number_is_a_422_not_a_lookup(client: TestClient) -> None:
    well_formed = case_number(TOWN, 999)
    for bad in (mistyped(well_formed), "371424100000-20261399-000001-1"):
        assert_problem(client.get(f"/api/v1/intake/cases/{bad}"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(
            client.post(f"/api/v1/intake/cases/{bad}/accept", json={"materials": []}),
            422,
            MALFORMED_CASE_NUMBER,
        )
        assert_problem(client.post(f"/api/v1/intake/cases/{bad}/handoff"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(client.get(f"/api/v1/intake/cases/{bad}/receipt"), 422, MALFORMED_CASE_NUMBER)
    assert_problem(
        client.get(f"/api/v1/intake/cases/{well_formed}"), 404, "urn:weimin:problem:case-not-found"
    )


def test_walk_in_over_http_gets_a_receipt_with_request_id(client: TestClient) -> None:
    applicant = villager("135")
    created = client.post(
        "/api/v1/intake/cases",
        json={"item_code": DIBAO.item_code, "applicant": applicant.model_dump(), "materials": []},
        headers={"X-Request-ID": "window-7"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "window-7"
    case_id = created.json()["case_id"]
    assert case_id.startswith(TOWN + "-")
    # No receipt before acceptance: a 404 problem, with a request id like every response.
    assert_problem(
        client.get(f"/api/v1/intake/cases/{case_id}/receipt"), 404, "urn:weimin:problem:receipt-not-found"
    )
    incomplete = client.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []})
    assert incomplete.status_code == 200 and incomplete.json()["outcome"] == "incomplete"
    assert sorted(incomplete.json()["notice"]["missing"]) == sorted(
        m.name for m in DIBAO.materials if m.required
    )
    accepted = client.post(
        f"/api/v1/intake/cases/{case_id}/accept",
        json={"materials": [{"name": m.name} for m in DIBAO.materials if m.required]},
    )
    assert accepted.status_code == 200 and accepted.json()["outcome"] == "accepted", accepted.text
    receipt = accepted.json()["receipt"]
    assert {"case_id", "item_code", "item_name", "accepted_on", "due", "officer"} <= receipt.keys()
    assert client.get(f"/api/v1/intake/cases/{case_id}/receipt").json() == receipt
    listed = client.get("/api/v1/intake/cases").text
    assert applicant.id_number not in listed and case_id in listed


def test_healthz_is_200_with_nats_up(client: TestClient) -> None:
    reply = wait_healthy(client)
    assert reply.status_code == 200, reply.text
    assert reply.json()["checks"] == {"database": True, "nats": True}
    assert reply.headers["x-request-id"]
