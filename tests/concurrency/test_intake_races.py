"""Intake under concurrency, a real uvicorn process: numbers minted once, each act on a case done once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from services.intake import service as intake_service
from services.intake.models import OneTimeNotice, Receipt
from shared.clock import today_cn
from shared.db import session_scope
from shared.events import EventType
from shared.events.types import ItemPublishedV1
from shared.item_copies import apply_item_published
from tests.case_fixtures import DIBAO, TEKUN, bearer, clerk, item_published, required, submission
from tests.concurrency.conftest import RunningService, fresh_town
from tests.concurrency.races import TRIALS, fire, one_winner, sequences, statuses

Start = Callable[..., Awaitable[RunningService]]


async def _items(engine: AsyncEngine) -> None:
    async with session_scope(engine) as session:
        for item in (DIBAO, TEKUN):
            await apply_item_published(session, item_published(item))


async def _walk_ins(
    engine: AsyncEngine, town: str, count: int, item: ItemPublishedV1 = DIBAO, materials: Sequence[str] = ()
) -> list[str]:
    """``count`` walk-ins received at ``town``'s window through intake's own service function."""
    await _items(engine)
    case_ids = []
    for _ in range(count):
        async with session_scope(engine) as session:
            case = await intake_service.receive_walk_in(
                session, clerk(town), submission(item, list(materials)), today_cn()
            )
            case_ids.append(case.case_id)
    return case_ids


async def _rows(service: RunningService, model: Any, case_id: str) -> list[Any]:
    engine = service.engine()
    try:
        async with session_scope(engine) as session:
            return list((await session.exec(select(model).where(model.case_id == case_id))).all())
    finally:
        await engine.dispose()


async def test_sixteen_concurrent_walk_ins_at_one_hall_get_sixteen_numbers(start_service: Start) -> None:
    service = await start_service("intake", _items)
    body = submission(DIBAO, required(DIBAO)).model_dump(mode="json")
    async with service.client() as client:
        for _ in range(TRIALS):
            town = fresh_town()
            headers = bearer(clerk(town))
            replies = await fire(
                client,
                [{"method": "POST", "url": "/api/v1/intake/cases", "json": body, "headers": headers}] * 16,
            )
            assert statuses(replies) == {201: 16}, [r.text for r in replies if r.status_code != 201]
            case_ids = [r.json()["case_id"] for r in replies]
            assert len(set(case_ids)) == 16
            assert all(c.startswith(town + "-") for c in case_ids)
            assert sequences(case_ids) == list(range(1, 17))


async def test_two_clerks_accepting_at_once_one_wins_the_other_gets_409(start_service: Start) -> None:
    town = fresh_town()
    case_ids: list[str] = []

    async def seed(engine: AsyncEngine) -> None:
        case_ids.extend(await _walk_ins(engine, town, TRIALS))

    service = await start_service("intake", seed)
    body = {"materials": [{"name": m} for m in required(DIBAO)]}
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/intake/cases/{case_id}/accept"
            replies = await fire(
                client,
                [
                    {"method": "POST", "url": url, "json": body, "headers": bearer(clerk(town, f"clerk-{n}"))}
                    for n in ("a", "b")
                ],
            )
            winner = one_winner(replies)
            assert winner.json()["outcome"] == "accepted"
            accepted = await service.events(str(EventType.case_accepted), case_id)
            assert len(accepted) == 1, f"{case_id}: {len(accepted)} case.accepted events"
            receipts = await _rows(service, Receipt, case_id)
            assert [r.receipt_no for r in receipts] == [winner.json()["receipt"]["receipt_no"]]


async def test_two_clerks_noting_the_same_gaps_at_once_issue_one_notice(start_service: Start) -> None:
    """The one-time notice path: two checks of an incomplete case at once list its gaps in ONE notice."""
    town = fresh_town()
    case_ids: list[str] = []

    async def seed(engine: AsyncEngine) -> None:
        case_ids.extend(await _walk_ins(engine, town, TRIALS))

    service = await start_service("intake", seed)
    body = {"materials": [{"name": required(DIBAO)[0]}]}
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/intake/cases/{case_id}/accept"
            replies = await fire(
                client,
                [
                    {"method": "POST", "url": url, "json": body, "headers": bearer(clerk(town, f"clerk-{n}"))}
                    for n in ("a", "b")
                ],
            )
            assert all(r.status_code in (200, 409) for r in replies), [r.text for r in replies]
            answers = [r.json() for r in replies if r.status_code == 200]
            assert answers and all(a["outcome"] == "incomplete" for a in answers)
            notices = await _rows(service, OneTimeNotice, case_id)
            assert len(notices) == 1 and {a["notice"]["notice_id"] for a in answers} == {notices[0].notice_id}
            issued = await service.events(str(EventType.case_notice_issued), case_id)
            assert len(issued) == 1, f"{case_id}: {len(issued)} case.notice_issued events"


async def test_two_hall_handoffs_at_once_move_the_case_one_hall_up(start_service: Start) -> None:
    town = fresh_town()
    case_ids: list[str] = []

    async def seed(engine: AsyncEngine) -> None:
        # County-decided cases, accepted at the town: the town hands them up to the county.
        case_ids.extend(await _walk_ins(engine, town, TRIALS, item=TEKUN, materials=required(TEKUN)))
        for case_id in case_ids:
            async with session_scope(engine) as session:
                await intake_service.accept(session, clerk(town), case_id, [], today_cn())

    service = await start_service("intake", seed)
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/intake/cases/{case_id}/handoff"
            replies = await fire(
                client,
                [
                    {"method": "POST", "url": url, "headers": bearer(clerk(town, f"clerk-{n}"))}
                    for n in ("a", "b")
                ],
            )
            winner = one_winner(replies)
            assert winner.json()["current_org"] == town[:6] + "000000"
            handed_up = await service.events(str(EventType.case_handed_up), case_id)
            assert len(handed_up) == 1, f"{case_id}: {len(handed_up)} case.handed_up events"
