"""The supervision app over HTTP (its real lifespan, the test NATS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    COUNTY,
    FOREIGN_COUNTY,
    MALFORMED_CASE_NUMBER,
    VILLAGE,
    assert_problem,
    bearer,
    case_events,
    case_number,
    feed,
    mistyped,
    service_client,
    supervisor,
    wait_healthy,
)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("supervision-http")
    with service_client("supervision", directory, nats_url, caller=supervisor(COUNTY)) as client:
        yield client


def test_no_token_is_a_401_problem(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    assert_problem(
        client.get("/api/v1/supervision/stats", headers=anonymous), 401, "urn:weimin:problem:unauthorized"
    )
    assert_problem(
        client.get(f"/api/v1/cases/{case_number(VILLAGE, 1)}", headers=anonymous),
        401,
        "urn:weimin:problem:unauthorized",
    )
    # Rating without a token needs the receipt's code.
    assert_problem(
        client.post(
            "/api/v1/supervision/evaluations",
            json={"case_id": case_number(VILLAGE, 1), "rating": 5},
            headers=anonymous,
        ),
        401,
    )


def test_malformed_case_number_is_a_422_not_a_lookup(client: TestClient) -> None:
    well_formed = case_number(VILLAGE, 3)
    for bad in (mistyped(well_formed), "not-a-case-number"):
        assert_problem(client.get(f"/api/v1/cases/{bad}"), 422, MALFORMED_CASE_NUMBER)
        assert_problem(
            client.post(
                "/api/v1/supervision/evaluations",
                json={"case_id": bad, "rating": 5},
                headers={"Authorization": ""},
            ),
            422,
            MALFORMED_CASE_NUMBER,
        )
    assert_problem(client.get(f"/api/v1/cases/{well_formed}"), 404, "urn:weimin:problem:case-not-found")


def test_stats_over_http_for_the_callers_county_only(client: TestClient) -> None:
    mine = client.get("/api/v1/supervision/stats", headers={"X-Request-ID": "screen-1"})
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "screen-1"
    assert mine.json()["org_code"] == COUNTY
    assert {
        "received",
        "accepted",
        "decided",
        "on_time_rate",
        "satisfaction_rate",
        "overdue",
    } <= mine.json().keys()
    assert_problem(client.get("/api/v1/supervision/stats", params={"org_code": FOREIGN_COUNTY}), 403)
    assert_problem(client.get("/api/v1/supervision/stats", params={"org_code": "3714"}), 422)


def test_case_timeline_over_http(client: TestClient) -> None:
    case_id = case_number(VILLAGE, 5)
    envelopes = case_events(case_id, VILLAGE, deciding_org=COUNTY, decided=True)
    client.portal.call(feed, client.app.state.engine, "supervision", envelopes)  # type: ignore[union-attr, attr-defined]
    reply = client.get(f"/api/v1/cases/{case_id}")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["case_id"], body["item_code"], body["status"]) == (case_id, "LY-MZ-002", "decided")
    assert [(h["type"], h["service"], h["org_code"]) for h in body["history"]] == [
        ("case.collected", "agents", VILLAGE),
        ("case.accepted", "intake", COUNTY),
        ("case.decided", "approval", COUNTY),
    ]
    assert all(h["at"].endswith(("Z", "+00:00")) for h in body["history"])
    # Another county's supervisor: as if there were no such case.
    foreign = client.get(f"/api/v1/cases/{case_id}", headers=bearer(supervisor(FOREIGN_COUNTY)))
    assert_problem(foreign, 404, "urn:weimin:problem:case-not-found")
    stats = client.get("/api/v1/supervision/stats").json()
    assert (stats["received"], stats["decided"]) >= (1, 1)


def test_healthz_is_200_with_nats_up(client: TestClient) -> None:
    reply = wait_healthy(client)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body.pop("outbox")["dead_letters"] == 0
    assert body == {"service": "supervision", "status": "ok", "checks": {"database": True, "nats": True}}
    assert reply.headers["x-request-id"]
