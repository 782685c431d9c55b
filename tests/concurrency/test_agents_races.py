"""Agents under concurrency, a real uvicorn process: every number minted once, every act done once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from services.agents import service as agents_service
from shared.clock import today_cn
from shared.db import session_scope
from shared.events import EventType
from shared.item_copies import apply_item_published
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    agent,
    assert_problem,
    bearer,
    case_events,
    feed,
    item_published,
    required,
    submission,
)
from tests.concurrency.conftest import RunningService, fresh_village
from tests.concurrency.races import TRIALS, fire, one_winner, sequences, statuses

Start = Callable[..., Awaitable[RunningService]]


async def _items(engine: AsyncEngine) -> None:
    async with session_scope(engine) as session:
        await apply_item_published(session, item_published(DIBAO))


async def _collected(engine: AsyncEngine, village: str, count: int) -> list[str]:
    """``count`` cases collected at ``village`` through the agents' own service function."""
    await _items(engine)
    case_ids = []
    for _ in range(count):
        async with session_scope(engine) as session:
            case = await agents_service.collect_case(
                session, agent(village), submission(DIBAO, required(DIBAO)), today_cn()
            )
            case_ids.append(case.case_id)
    return case_ids


async def test_sixteen_concurrent_collects_at_one_village_get_sixteen_numbers(start_service: Start) -> None:
    service = await start_service("agents", _items)
    body = submission(DIBAO, required(DIBAO)).model_dump(mode="json")
    async with service.client() as client:
        for _ in range(TRIALS):
            village = fresh_village()
            headers = bearer(agent(village))
            replies = await fire(
                client,
                [{"method": "POST", "url": "/api/v1/agents/cases", "json": body, "headers": headers}] * 16,
            )
            assert statuses(replies) == {201: 16}, [r.text for r in replies if r.status_code != 201]
            case_ids = [r.json()["case_id"] for r in replies]
            assert len(set(case_ids)) == 16
            assert all(c.startswith(village + "-") for c in case_ids)
            assert sequences(case_ids) == list(range(1, 17))


async def test_two_identical_handoffs_at_once_move_the_case_once(start_service: Start) -> None:
    village = fresh_village()
    case_ids: list[str] = []

    async def seed(engine: AsyncEngine) -> None:
        case_ids.extend(await _collected(engine, village, TRIALS))

    service = await start_service("agents", seed)
    headers = bearer(agent(village))
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/agents/cases/{case_id}/handoff"
            replies = await fire(client, [{"method": "POST", "url": url, "headers": headers}] * 2)
            winner = one_winner(replies)
            assert winner.json()["current_org"] == village[:9] + "000"
            handed_up = await service.events(str(EventType.case_handed_up), case_id)
            assert len(handed_up) == 1, f"{case_id}: {len(handed_up)} case.handed_up events"


async def test_two_deliveries_at_once_deliver_once(start_service: Start) -> None:
    village = fresh_village()
    case_ids: list[str] = []

    async def seed(engine: AsyncEngine) -> None:
        case_ids.extend(await _collected(engine, village, TRIALS))
        for case_id in case_ids:
            async with session_scope(engine) as session:
                await agents_service.hand_up(session, agent(village), case_id)
            # The county decided it: the agent now has a decision to deliver.
            decided = case_events(case_id, village, deciding_org=COUNTY, decided=True)[-1]
            await feed(engine, "agents", [decided])

    service = await start_service("agents", seed)
    headers = bearer(agent(village))
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/agents/cases/{case_id}/deliver"
            delivery = {"method": "POST", "url": url, "headers": headers, "json": {"method": "agent"}}
            replies = await fire(client, [delivery] * 2)
            winner = one_winner(replies)
            assert winner.json()["status"] == "delivered"
            delivered = await service.events(str(EventType.case_delivered), case_id)
            assert len(delivered) == 1, f"{case_id}: {len(delivered)} case.delivered events"
            # The case records the one delivery that won, not a mixture of both.
            reply = await client.get(f"/api/v1/agents/cases/{case_id}", headers=headers)
            assert reply.json()["delivered_at"] == winner.json()["delivered_at"]


async def test_one_idempotency_key_fired_eight_times_at_once_creates_one_case(start_service: Start) -> None:
    """A retried create racing itself: one case, the same answer or a 409 to the others, never a 500."""
    service = await start_service("agents", _items)
    body = submission(DIBAO, required(DIBAO)).model_dump(mode="json")
    async with service.client() as client:
        for trial in range(TRIALS):
            village = fresh_village()
            headers = bearer(agent(village)) | {"Idempotency-Key": f"retry-{trial}"}
            replies = await fire(
                client,
                [{"method": "POST", "url": "/api/v1/agents/cases", "json": body, "headers": headers}] * 8,
            )
            assert set(statuses(replies)) <= {201, 409}, [r.text for r in replies]
            created = {r.json()["case_id"] for r in replies if r.status_code == 201}
            assert len(created) == 1, [r.text for r in replies]
            for reply in replies:
                if reply.status_code == 409:
                    assert_problem(reply, 409, "concurrent-write")
            listed = await client.get("/api/v1/agents/cases", headers=bearer(agent(village)))
            assert [c["case_id"] for c in listed.json()["items"]] == list(created)
