"""The rating code (评价码) is the applicant's alone: an officer's token never rates with it, wrong codes
are counted per case and soon refused (429 with Retry-After), a wrong code reads like an unknown case,
and every rating records who really posted it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from limits import RateLimitItemPerSecond
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import service as supervision_service
from services.supervision.code_guard import MAX_WRONG, WINDOW_SECONDS, WrongCodeGuard
from services.supervision.models import Evaluation
from services.supervision.schemas import EvaluationIn
from shared.auth import Principal
from shared.db import session_scope
from shared.errors import NotFound
from tests.case_fixtures import (
    COUNTY,
    TOWN,
    VILLAGE,
    agent,
    approver,
    assert_problem,
    bearer,
    case_events,
    case_number,
    clerk,
    feed,
    outbox,
    service_client,
    service_engine,
    supervisor,
)

CODE = "K7QW3MZP9XRT"  # as intake mints them: 12 characters, no look-alikes
PRINTED = "K7QW-3MZP-9XRT"  # as the receipt prints it
EVALUATIONS = "/api/v1/supervision/evaluations"
NOT_FOUND = "urn:weimin:problem:case-not-found"
LOCKED = "urn:weimin:problem:too-many-wrong-codes"
ANONYMOUS = {"Authorization": ""}


def _decided(client: TestClient, sequence: int, code: str = CODE) -> str:
    case_id = case_number(VILLAGE, sequence)
    envelopes = case_events(case_id, VILLAGE, deciding_org=COUNTY, decided=True, evaluation_code=code)
    client.portal.call(feed, client.app.state.engine, "supervision", envelopes)  # type: ignore[union-attr, attr-defined]
    return case_id


def _rate(
    client: TestClient, case_id: str, code: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: dict[str, object] = {"case_id": case_id, "rating": 4}
    if code is not None:
        body["evaluation_code"] = code
    return client.post(EVALUATIONS, json=body, headers=headers or ANONYMOUS)


@pytest.fixture(scope="module")
def client(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("supervision-rating-codes")
    with service_client("supervision", directory, nats_url) as client:
        yield client


async def _evaluations(engine: AsyncEngine, case_id: str) -> list[Evaluation]:
    async with AsyncSession(engine) as session:
        return list((await session.exec(select(Evaluation).where(Evaluation.case_id == case_id))).all())


def test_five_wrong_codes_lock_the_case_with_retry_after(client: TestClient) -> None:
    case_id, neighbour = _decided(client, 101), _decided(client, 102)
    for n in range(MAX_WRONG):
        assert_problem(_rate(client, case_id, f"WRONGCODE{n:03d}"), 404, NOT_FOUND)
    # Now even the right code waits: guessing stops here.
    locked = _rate(client, case_id, CODE)
    assert_problem(locked, 429, LOCKED)
    retry_after = int(locked.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    assert locked.json()["retry_after"] == retry_after
    engine = client.app.state.engine
    assert client.portal.call(_evaluations, engine, case_id) == []  # type: ignore[union-attr]
    # Another case's applicant is not locked out by it.
    rated = _rate(client, neighbour, PRINTED.lower())
    assert rated.status_code == 201, rated.text


def test_a_wrong_code_answers_exactly_as_an_unknown_case(client: TestClient) -> None:
    known, unknown = _decided(client, 111), case_number(VILLAGE, 112)
    wrong = _rate(client, known, "ABCDEFGHJKMN")
    missing = _rate(client, unknown, "ABCDEFGHJKMN")
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json() == {
        key: value.replace(unknown, known) if isinstance(value, str) else value
        for key, value in missing.json().items()
    }
    # Guessing at a case that does not exist is locked the same way: a 429 tells nothing either.
    for _ in range(MAX_WRONG - 1):
        assert_problem(_rate(client, unknown, "ABCDEFGHJKMN"), 404, NOT_FOUND)
    assert_problem(_rate(client, unknown, "ABCDEFGHJKMN"), 429, LOCKED)


@pytest.mark.parametrize(
    ("officer", "sequence"),
    [
        (approver(COUNTY), 121),
        (supervisor(COUNTY), 122),
        (clerk(TOWN), 123),
        (Principal("admin-county", ("admin",), COUNTY), 124),
        (Principal("client-12345-hotline", ("system",), COUNTY), 125),
    ],
    ids=["approver", "supervisor", "clerk", "admin", "system"],
)
def test_an_officers_token_cannot_rate_as_the_applicant(
    client: TestClient, officer: Principal, sequence: int
) -> None:
    case_id = _decided(client, sequence)
    refused = _rate(client, case_id, CODE, headers=bearer(officer))
    assert_problem(refused, 403, "urn:weimin:problem:not-the-applicant")
    engine = client.app.state.engine
    assert client.portal.call(_evaluations, engine, case_id) == []  # type: ignore[union-attr]
    # The applicant's own rating is still theirs to give.
    rated = _rate(client, case_id, CODE)
    assert rated.status_code == 201, rated.text
    assert (rated.json()["rated_by"], rated.json()["channel"]) == ("applicant", "receipt_code")


def test_ratings_record_who_really_posted_them(client: TestClient) -> None:
    by_agent, by_applicant = _decided(client, 131), _decided(client, 132)
    village_agent = agent(VILLAGE, "agent-wang")
    assert _rate(client, by_agent, None, headers=bearer(village_agent)).status_code == 201
    assert _rate(client, by_applicant, f" {PRINTED} ").status_code == 201
    engine = client.app.state.engine
    [agents] = client.portal.call(_evaluations, engine, by_agent)  # type: ignore[union-attr]
    [applicants] = client.portal.call(_evaluations, engine, by_applicant)  # type: ignore[union-attr]
    assert (agents.rated_by, agents.channel, agents.caller) == ("agent-wang", "agent", "agent-wang")
    assert (applicants.rated_by, applicants.channel, applicants.caller) == (
        "applicant",
        "receipt_code",
        "anonymous",
    )


# ------------------------------------------------------------------------------ the guard on its own


@pytest.fixture
async def sup(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = service_engine(tmp_path, "supervision")
    yield engine
    await engine.dispose()


async def test_the_lock_lifts_once_the_window_has_passed(sup: AsyncEngine) -> None:
    guard = WrongCodeGuard(RateLimitItemPerSecond(2, 1))
    case_id = case_number(VILLAGE, 141)
    await feed(
        sup,
        "supervision",
        case_events(case_id, VILLAGE, deciding_org=COUNTY, decided=True, evaluation_code=CODE),
    )

    async def rate(code: str) -> Evaluation:
        async with session_scope(sup) as session:
            body = EvaluationIn(case_id=case_id, rating=5, evaluation_code=code)
            return await supervision_service.evaluate(session, None, body, guard=guard)

    for _ in range(2):
        with pytest.raises(NotFound):
            await rate("ABCDEFGHJKMN")
    with pytest.raises(supervision_service.TooManyWrongCodes) as locked:
        await rate(CODE)
    assert locked.value.retry_after == 1
    time.sleep(1.1)
    rated = await rate(CODE)
    assert (rated.rated_by, rated.channel, rated.caller) == ("applicant", "receipt_code", "anonymous")
    assert len(await outbox(sup, "case.evaluated", case_id)) == 1
