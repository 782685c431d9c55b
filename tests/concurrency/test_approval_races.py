"""Approval under concurrency, a real uvicorn process: a case is decided once, with one outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events import EventType
from tests.case_fixtures import COUNTY, approver, assert_problem, bearer, case_events, case_number, feed
from tests.concurrency.conftest import RunningService, fresh_village
from tests.concurrency.races import TRIALS, fire, one_winner

Start = Callable[..., Awaitable[RunningService]]

APPROVE = {"outcome": "approved"}
REJECT = {"outcome": "rejected", "reason": "家庭收入超过当地低保标准"}


async def _accepted_cases(start_service: Start, count: int) -> tuple[RunningService, list[str]]:
    """Approval running, with ``count`` cases intake accepted for the county to decide (fed as events)."""
    village = fresh_village()
    case_ids = [case_number(village, n) for n in range(1, count + 1)]

    async def seed(engine: AsyncEngine) -> None:
        for case_id in case_ids:
            await feed(engine, "approval", case_events(case_id, village, deciding_org=COUNTY)[1:])

    return await start_service("approval", seed), case_ids


async def test_approve_and_reject_fired_together_decide_once(start_service: Start) -> None:
    service, case_ids = await _accepted_cases(start_service, TRIALS)
    headers = bearer(approver(COUNTY))
    async with service.client() as client:
        for case_id in case_ids:
            url = f"/api/v1/approval/cases/{case_id}/decision"
            replies = await fire(
                client,
                [
                    {"method": "POST", "url": url, "json": APPROVE, "headers": headers},
                    {"method": "POST", "url": url, "json": REJECT, "headers": headers},
                ],
            )
            winner = one_winner(replies, loser=(409, 412))
            decided = await service.events(str(EventType.case_decided), case_id)
            assert len(decided) == 1, f"{case_id}: {len(decided)} case.decided events"
            # Everyone is told the same outcome: the winner's answer, the stored case and the event.
            outcome = winner.json()["outcome"]
            assert decided[0].data["outcome"] == outcome
            stored = await client.get(f"/api/v1/approval/cases/{case_id}", headers=headers)
            assert stored.json()["outcome"] == outcome


async def test_a_stale_if_match_on_a_decision_is_412(start_service: Start) -> None:
    service, (raced, stale, plain) = await _accepted_cases(start_service, 3)
    headers = bearer(approver(COUNTY))
    async with service.client() as client:
        # Two approvers read the case, then both decide with the ETag they read: one wins, one is stale.
        read = await client.get(f"/api/v1/approval/cases/{raced}", headers=headers)
        etag = read.headers["etag"]
        url = f"/api/v1/approval/cases/{raced}/decision"
        replies = await fire(
            client,
            [
                {"method": "POST", "url": url, "json": body, "headers": headers | {"If-Match": etag}}
                for body in (APPROVE, REJECT)
            ],
        )
        winner = one_winner(replies, loser=(412,))
        assert_problem(next(r for r in replies if r is not winner), 412, "stale-etag")
        assert winner.headers["etag"] != etag
        assert len(await service.events(str(EventType.case_decided), raced)) == 1

        # One after the other: a decision based on what the case was before it changed is refused.
        url = f"/api/v1/approval/cases/{stale}/decision"
        before = (await client.get(f"/api/v1/approval/cases/{stale}", headers=headers)).headers["etag"]
        first = await client.post(url, json=APPROVE, headers=headers | {"If-Match": before})
        assert first.status_code == 200, first.text
        after = first.headers["etag"]
        assert after != before
        assert (await client.get(f"/api/v1/approval/cases/{stale}", headers=headers)).headers["etag"] == after
        assert_problem(
            await client.post(url, json=REJECT, headers=headers | {"If-Match": before}), 412, "stale-etag"
        )
        assert_problem(await client.post(url, json=REJECT, headers=headers | {"If-Match": '"nonsense"'}), 412)
        # With the current ETag (or none) the answer is the case's own: it was decided already.
        assert_problem(
            await client.post(url, json=REJECT, headers=headers | {"If-Match": after}),
            409,
            "case-already-decided",
        )
        assert len(await service.events(str(EventType.case_decided), stale)) == 1

        # The spine stays walkable: a decision without If-Match (or with ``*``) is decided as before.
        reply = await client.post(f"/api/v1/approval/cases/{plain}/decision", json=APPROVE, headers=headers)
        assert reply.status_code == 200 and reply.json()["outcome"] == "approved", reply.text
