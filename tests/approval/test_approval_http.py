"""The approval app over HTTP (its real lifespan, the test NATS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    COUNTY,
    MALFORMED_CASE_NUMBER,
    TOWN,
    VILLAGE,
    approver,
    assert_problem,
    bearer,
    case_events,
    case_number,
    feed,
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


def test_queue_and_decision_over_http(client: TestClient) -> None:
    """A case intake accepted waits in the deciding unit's queue as ``accepted``; its approver decides it
    over HTTP, and the decision is stored when the answer comes."""
    case_id = case_number(VILLAGE, 9)
    envelopes = case_events(case_id, VILLAGE, deciding_org=COUNTY)[1:]
    client.portal.call(feed, client.app.state.engine, "approval", envelopes)  # type: ignore[union-attr, attr-defined]

    def queue(status: str) -> list[str]:
        reply = client.get("/api/v1/approval/cases", params={"status": status})
        assert reply.status_code == 200, reply.text
        return [c["case_id"] for c in reply.json()["items"]]

    assert case_id in queue("accepted") and case_id not in queue("decided")
    assert client.get(f"/api/v1/approval/cases/{case_id}").json()["status"] == "accepted"
    # approval's own word for a waiting case is gone: every status is a CaseStatus.
    assert_problem(client.get("/api/v1/approval/cases", params={"status": "pending"}), 422)
    # The approver of the town the case came from does not decide what the county decides.
    town = client.post(
        f"/api/v1/approval/cases/{case_id}/decision",
        json={"outcome": "approved"},
        headers=bearer(approver(TOWN)),
    )
    assert_problem(town, 403, "urn:weimin:problem:not-the-deciding-unit")

    decided = client.post(f"/api/v1/approval/cases/{case_id}/decision", json={"outcome": "approved"})
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["outcome"]) == ("decided", "approved")
    assert client.get(f"/api/v1/approval/cases/{case_id}").json()["status"] == "decided"
    assert case_id in queue("decided") and case_id not in queue("accepted")
    assert_problem(
        client.post(f"/api/v1/approval/cases/{case_id}/decision", json={"outcome": "approved"}),
        409,
        "urn:weimin:problem:case-already-decided",
    )


def test_healthz_is_200_with_nats_up(client: TestClient) -> None:
    reply = wait_healthy(client)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["outbox"] == {"pending": body["outbox"]["pending"], "dead_letters": 0}
    assert {k: v for k, v in body.items() if k != "outbox"} == {
        "service": "approval",
        "status": "ok",
        "checks": {"database": True, "nats": True},
    }
    assert reply.headers["x-request-id"]
