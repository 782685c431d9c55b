"""Bad input stops at approval's boundary: an oversized or invisible reason is a 422 problem; the case
stays undecided and no decision is announced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.case_fixtures import (
    COUNTY,
    VILLAGE,
    approver,
    assert_problem,
    case_events,
    case_number,
    feed,
    outbox,
    service_client,
)

INVALID = "urn:weimin:problem:invalid-input"


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("approval-bounds")
    with service_client("approval", directory, nats_url, caller=approver(COUNTY)) as client:
        yield client


def _call(client: TestClient, work: Any, *args: Any) -> Any:
    return client.portal.call(work, client.app.state.engine, *args)  # type: ignore[union-attr, attr-defined]


def test_an_oversized_or_invisible_reason_is_a_422(client: TestClient) -> None:
    case_id = case_number(VILLAGE, 31)
    _call(client, feed, "approval", case_events(case_id, VILLAGE, deciding_org=COUNTY)[1:])
    decision = f"/api/v1/approval/cases/{case_id}/decision"
    for reason in ("理" * 100_000, "理" * 2001, "不符合条件\u0000", "不符合\u202e条件"):
        assert_problem(client.post(decision, json={"outcome": "rejected", "reason": reason}), 422, INVALID)
    assert client.get(f"/api/v1/approval/cases/{case_id}").json()["status"] == "accepted"
    assert _call(client, outbox, "case.decided", case_id) == []
    decided = client.post(decision, json={"outcome": "rejected", "reason": "不符合条件\n详见告知书"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["reason"] == "不符合条件\n详见告知书"
    assert len(_call(client, outbox, "case.decided", case_id)) == 1
