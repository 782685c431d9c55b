"""The intake app over HTTP (its real lifespan, the test NATS): what a window's client meets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    CITY,
    CITY_ITEM,
    COUNTY,
    DIBAO,
    MALFORMED_CASE_NUMBER,
    TOWN,
    assert_problem,
    bearer,
    case_number,
    clerk,
    mistyped,
    required,
    service_client,
    villager,
    wait_healthy,
)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("intake-http")
    items = (DIBAO, CITY_ITEM)
    with service_client("intake", directory, nats_url, caller=clerk(TOWN), items=items) as client:
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


def test_walk_in_with_the_same_idempotency_key_is_received_once(client: TestClient) -> None:
    body = {"item_code": DIBAO.item_code, "applicant": villager("246").model_dump(), "materials": []}
    key = {"Idempotency-Key": "window-3-walk-in-1"}
    first = client.post("/api/v1/intake/cases", json=body, headers=key)
    assert first.status_code == 201, first.text
    # The client retries (a dropped answer): the first answer again, no second case number.
    again = client.post("/api/v1/intake/cases", json=body, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = client.get("/api/v1/intake/cases", params={"limit": 200}).json()["items"]
    assert [c["case_id"] for c in listed].count(first.json()["case_id"]) == 1
    # The same key for another applicant is a mistake, not a replay.
    other = {**body, "applicant": villager("247").model_dump()}
    assert_problem(
        client.post("/api/v1/intake/cases", json=other, headers=key),
        422,
        "urn:weimin:problem:idempotency-key-reused",
    )


def test_handoff_over_http_goes_to_the_hall_above_and_only_once(client: TestClient) -> None:
    county, city = bearer(clerk(COUNTY)), bearer(clerk(CITY))
    created = client.post(
        "/api/v1/intake/cases",
        json={
            "item_code": CITY_ITEM.item_code,
            "applicant": villager("369").model_dump(),
            "materials": [{"name": m} for m in required(CITY_ITEM)],
        },
        headers=county,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert created.json()["status"] == "received" and case_id.startswith(COUNTY + "-")
    accepted = client.post(f"/api/v1/intake/cases/{case_id}/accept", json={"materials": []}, headers=county)
    assert accepted.json()["outcome"] == "accepted", accepted.text
    moved = client.post(f"/api/v1/intake/cases/{case_id}/handoff", headers=county)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"case_id": case_id, "current_org": CITY}
    # Handed on: the county's second hand-up is a 409, not another 200.
    assert_problem(
        client.post(f"/api/v1/intake/cases/{case_id}/handoff", headers=county),
        409,
        "urn:weimin:problem:case-not-at-your-hall",
    )
    # The city decides it: it goes no higher.
    assert_problem(
        client.post(f"/api/v1/intake/cases/{case_id}/handoff", headers=city),
        409,
        "urn:weimin:problem:decided-here",
    )
    shown = client.get(f"/api/v1/intake/cases/{case_id}", headers=city).json()
    assert (shown["current_org"], shown["deciding_org"], shown["status"]) == (CITY, CITY, "accepted")
