"""The approval app over HTTP (its real lifespan, the test NATS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    COUNTY,
    MALFORMED_CASE_NUMBER,
    TOWN,
    approver,
    assert_problem,
    case_number,
    mistyped,
    service_client,
    wait_healthy,
)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("approval-http")
    with service_client("approval", directory, nats_url, caller=approver(COUNTY)) as client:
        yield client


def test_no_token_is_a_401_problem(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    number = case_number(TOWN, 1)
    for reply in (
        client.get("/api/v1/approval/cases", headers=anonymous),
        client.get(f"/api/v1/approval/cases/{number}", headers=anonymous),
        client.post(
            f"/api/v1/approval/cases/{number}/decision", json={"outcome": "approved"}, headers=anonymous
        ),
    ):
        assert_problem(reply, 401, "urn:weimin:problem:unauthorized")


def test_malformed_case_number_is_a_422_not_a_lookup(client: TestClient) -> None:
    well_formed = case_number(TOWN, 7)
    for bad in (mistyped(well_formed), "371424100000-20261102-000000-1"):
        assert_problem(client.get(f"/api/v1/approval/cases/{bad}"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(
            client.post(f"/api/v1/approval/cases/{bad}/decision", json={"outcome": "approved"}),
            422,
            MALFORMED_CASE_NUMBER,
        )
    assert_problem(
        client.get(f"/api/v1/approval/cases/{well_formed}"), 404, "urn:weimin:problem:case-not-found"
    )


def test_rejection_without_reasons_is_refused_over_http(client: TestClient) -> None:
    number = case_number(COUNTY, 1)
    for body in ({"outcome": "rejected"}, {"outcome": "rejected", "reason": "  "}):
        reply = client.post(f"/api/v1/approval/cases/{number}/decision", json=body)
        assert "reason" in assert_problem(reply, 422, "urn:weimin:problem:invalid-input")["detail"]


def test_healthz_is_200_with_nats_up(client: TestClient) -> None:
    reply = wait_healthy(client)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"service": "approval", "status": "ok", "checks": {"database": True, "nats": True}}
    assert reply.headers["x-request-id"]
