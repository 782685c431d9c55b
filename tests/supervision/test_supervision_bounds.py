"""Bad input stops at supervision's boundary: an oversized or invisible comment, an oversized case
number or code are a 422 problem; nothing is stored, no rating is announced, no wrong code counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision.code_guard import GUARD, MAX_WRONG
from services.supervision.models import Evaluation
from tests.case_fixtures import (
    COUNTY,
    VILLAGE,
    agent,
    assert_problem,
    case_events,
    case_number,
    feed,
    outbox,
    service_client,
)

INVALID = "urn:weimin:problem:invalid-input"
CODE = "K7QW3MZP9XRT"


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("supervision-bounds")
    with service_client("supervision", directory, nats_url, caller=agent(VILLAGE)) as client:
        yield client


def _call(client: TestClient, work: Any, *args: Any) -> Any:
    return client.portal.call(work, client.app.state.engine, *args)  # type: ignore[union-attr, attr-defined]


async def _rating(engine: Any, case_id: str) -> Evaluation | None:
    async with AsyncSession(engine) as session:
        return await session.get(Evaluation, case_id)


def test_an_oversized_or_invisible_comment_is_a_422(client: TestClient) -> None:
    case_id = case_number(VILLAGE, 41)
    events = case_events(case_id, VILLAGE, deciding_org=COUNTY, decided=True, evaluation_code=CODE)
    _call(client, feed, "supervision", events)
    anonymous = {"Authorization": ""}
    for body, headers in (
        ({"comment": "好" * 100_000}, None),
        ({"comment": "好" * 1001}, None),
        ({"comment": "很好\u001b[31m"}, None),
        ({"evaluation_code": CODE * 3}, anonymous),
        ({"evaluation_code": "K7QW\u00003MZP9XRT"}, anonymous),
        ({"case_id": case_id * 2}, None),
    ):
        reply = client.post(
            "/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 5} | body, headers=headers
        )
        assert_problem(reply, 422, INVALID)
    assert _call(client, _rating, case_id) is None
    assert _call(client, outbox, "case.evaluated", case_id) == []
    assert GUARD.remaining(case_id) == MAX_WRONG, "a refused body counted as a wrong code"
    rated = client.post(
        "/api/v1/supervision/evaluations", json={"case_id": case_id, "rating": 5, "comment": "办事快\n态度好"}
    )
    assert rated.status_code == 201, rated.text
    assert len(_call(client, outbox, "case.evaluated", case_id)) == 1
