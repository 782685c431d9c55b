"""Supervision's figures come from counters kept as events arrive (``unit_figures``,
``open_cases_due``), never from a count over the cases per request: they must always say what a
count over the case views says, whatever order the events come in."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import service as supervision_service
from services.supervision.models import CaseView, TimelineEntry
from services.supervision.schemas import Stats
from shared import migrations
from shared.divisions import in_subtree
from shared.events import Envelope, EventType
from shared.events.consumer import apply_batch
from shared.events.types import CaseHandedUpV1, CaseReceivedV1
from tests.case_fixtures import (
    CITY,
    COUNTY,
    FAR_VILLAGE,
    FOREIGN_VILLAGE,
    NEIGHBOUR_VILLAGE,
    OTHER_TOWN,
    SUBSCRIPTIONS,
    TEKUN,
    TOWN,
    VILLAGE,
    case_events,
    case_number,
    feed,
    rating_event,
    service_engine,
    supervisor,
)
from tests.support import settings_for

UNITS = (CITY, COUNTY, TOWN, OTHER_TOWN, VILLAGE, NEIGHBOUR_VILLAGE, FAR_VILLAGE, FOREIGN_VILLAGE)
DAYS = (date(2026, 11, 2), date(2026, 11, 19), date(2026, 11, 21), date(2026, 12, 31))


@pytest.fixture
async def sup(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = service_engine(tmp_path / "counted", "supervision")
    yield engine
    await engine.dispose()


def _handed_up(case_id: str, origin: str, to_org: str, at_hour: int) -> list[Envelope]:
    """The village hands the case up and the town's hall receives it."""
    base = case_events(case_id, origin, accepted=False)[0]
    applicant = base.data["applicant"]
    at = base.time + timedelta(minutes=at_hour * 60 + 30)
    common = {"case_id": case_id, "item_code": TEKUN.item_code}
    return [
        Envelope(
            source="agents",
            type=str(EventType.case_handed_up),
            subject=case_id,
            time=at,
            data=CaseHandedUpV1(
                **common,
                org_code=origin,
                to_org=to_org,
                handed_by=f"agent-{origin}",
                applicant=applicant,
                materials=[],
                origin_org=origin,
            ).model_dump(mode="json"),
        ),
        Envelope(
            source="intake",
            type=str(EventType.case_received),
            subject=case_id,
            time=at + timedelta(minutes=1),
            data=CaseReceivedV1(**common, org_code=to_org, channel="handoff", origin_org=origin).model_dump(
                mode="json"
            ),
        ),
    ]


def _walks() -> list[list[Envelope]]:
    """Cases at every stage, in several units (one outside the county), each as its events."""
    walks = []
    for n, (origin, town) in enumerate(
        [(VILLAGE, TOWN), (NEIGHBOUR_VILLAGE, TOWN), (FAR_VILLAGE, OTHER_TOWN), (FOREIGN_VILLAGE, None)]
    ):
        collected = case_number(origin, 10 + n)
        walks.append(case_events(collected, origin, accepted=False))
        on_the_way = case_number(origin, 20 + n)
        if town is not None:
            walks.append(
                case_events(on_the_way, origin, accepted=False) + _handed_up(on_the_way, origin, town, 1)
            )
        waiting = case_number(origin, 30 + n)
        walks.append(case_events(waiting, origin, due=date(2026, 11, 20)))
        waiting_longer = case_number(origin, 40 + n)
        walks.append(case_events(waiting_longer, origin, due=date(2026, 12, 20)))
        on_time = case_number(origin, 50 + n)
        walks.append(
            case_events(on_time, origin, deciding_org=COUNTY, decided=True)
            + [rating_event(on_time, origin, 4)]
        )
        late = case_number(origin, 60 + n)
        walks.append(
            case_events(late, origin, due=date(2026, 11, 3), decided=True, on_time=False)
            + [rating_event(late, origin, 1 + n % 3)]
        )
        # Re-sent under new ids (another outbox row for the same change): the figures must not move.
        walks.append(case_events(late, origin, due=date(2026, 11, 3), decided=True, on_time=False))
    return walks


def _recount(views: list[CaseView], org_code: str, today: date) -> Stats:
    """The figures by their definitions, counted over every case view of the subtree."""
    mine = [v for v in views if in_subtree(org_code, v.origin_org)]
    decided = [v for v in mine if v.decided_at is not None]
    rated = [v for v in mine if v.rating is not None]
    on_time = sum(1 for v in mine if v.on_time is True)
    return Stats(
        org_code=org_code,
        received=len(mine),
        accepted=sum(1 for v in mine if v.accepted_at is not None),
        decided=len(decided),
        on_time_rate=round(on_time / len(decided), 4) if decided else None,
        satisfaction_rate=round(sum(1 for v in rated if v.rating >= 3) / len(rated), 4) if rated else None,
        overdue=sum(
            1
            for v in mine
            if (v.accepted_at is not None and v.decided_at is None and v.due is not None and v.due < today)
            or v.on_time is False
        ),
    )


async def _all_figures(engine: AsyncEngine) -> dict[tuple[str, date], Stats]:
    async with AsyncSession(engine) as session:
        return {
            (unit, day): await supervision_service.stats(session, supervisor(unit), unit, day)
            for unit in UNITS
            for day in DAYS
        }


async def _recounted(engine: AsyncEngine) -> dict[tuple[str, date], Stats]:
    async with AsyncSession(engine) as session:
        views = list((await session.exec(select(CaseView))).all())
    return {(unit, day): _recount(views, unit, day) for unit in UNITS for day in DAYS}


async def test_stats_from_counters_equal_a_recount_over_the_case_views_after_every_event(
    sup: AsyncEngine,
) -> None:
    """Cases walked through every status, their events interleaved and some out of order (a decision
    before its acceptance, a hand-up before the collection): after each event, every unit's figures on
    every day equal a count over the case views."""
    events = [event for walk in _walks() for event in walk]
    random.Random(8).shuffle(events)
    for event in events:
        await feed(sup, "supervision", [event])
        assert await _all_figures(sup) == await _recounted(sup), f"after {event.type} of {event.subject}"
    county = (await _all_figures(sup))[(COUNTY, date(2026, 11, 21))]
    assert (county.received, county.accepted, county.decided, county.overdue) == (18, 12, 6, 6)


async def test_the_migration_fills_the_counters_from_the_views_stored_before_it(
    sup: AsyncEngine, tmp_path: Path
) -> None:
    """An installation from before the counters keeps its figures: the revision that adds them counts
    the stored case views by the same rules."""
    for walk in _walks():
        await feed(sup, "supervision", walk)
    counted = await _all_figures(sup)

    settings = settings_for(tmp_path / "older")
    migrations.upgrade("supervision", settings, revision="0004")
    table = CaseView.__table__  # type: ignore[attr-defined]
    source = migrations.sync_engine("supervision", settings_for(tmp_path / "counted"))
    older = migrations.sync_engine("supervision", settings)
    try:
        with source.connect() as conn:
            views = [dict(row) for row in conn.execute(sa_select(table)).mappings()]
        with older.begin() as conn:
            conn.execute(table.insert(), views)
    finally:
        source.dispose()
        older.dispose()
    migrations.upgrade("supervision", settings)

    upgraded = service_engine(tmp_path / "older", "supervision")
    try:
        assert await _all_figures(upgraded) == counted
        assert await _recounted(upgraded) == counted
    finally:
        await upgraded.dispose()


async def test_events_applied_in_batches_give_the_same_views_and_figures_as_one_by_one(
    sup: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The consumer applies a fetched batch in one transaction, a case's several events among them:
    the views, timelines and figures are those of applying the events one at a time."""
    events = [event for walk in _walks() for event in walk]
    random.Random(21).shuffle(events)
    subscription = SUBSCRIPTIONS["supervision"]
    batched = service_engine(tmp_path / "batched", "supervision")
    try:
        for start in range(0, len(events), 17):
            chunk = events[start : start + 17]
            results = await apply_batch(
                batched, subscription, [(e.nats_subject, e.model_dump_json().encode()) for e in chunk]
            )
            assert all(results)
        assert "failed together" not in caplog.text, "every batch was applied as a whole"
        await feed(sup, "supervision", events)
        assert await _all_figures(batched) == await _all_figures(sup)
        assert await _recounted(batched) == await _recounted(sup)
        async with AsyncSession(batched) as one, AsyncSession(sup) as other:
            for model in (CaseView, TimelineEntry):
                rows = (await one.exec(select(model))).all()
                assert len(rows) == len((await other.exec(select(model))).all()) > 0
    finally:
        await batched.dispose()
