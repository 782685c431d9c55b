"""Supervision (电子监察): timelines built from events alone, ratings (好差评), and the counts a county
ranks its towns by."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.supervision import routes as supervision_routes
from services.supervision import service as supervision_service
from services.supervision.models import CaseView, Evaluation, TimelineEntry
from services.supervision.schemas import EvaluationIn, Stats
from shared.auth import Principal
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.events import Envelope, EventType, InboxEvent
from shared.events.consumer import apply_once
from shared.events.types import CaseEvaluatedV1, CaseHandedUpV1
from tests.case_fixtures import (
    COUNTY,
    FAR_VILLAGE,
    FOREIGN_COUNTY,
    FOREIGN_VILLAGE,
    NEIGHBOUR_VILLAGE,
    OTHER_TOWN,
    SUBSCRIPTIONS,
    TEKUN,
    TOWN,
    VILLAGE,
    Network,
    agent,
    approver,
    case_events,
    case_number,
    clerk,
    feed,
    item_published,
    outbox,
    rating_event,
    required,
    service_engine,
    supervisor,
)


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    network = await Network.create(tmp_path)
    yield network
    await network.close()


@pytest.fixture
async def sup(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A supervision database alone, fed hand-built events."""
    engine = service_engine(tmp_path / "alone", "supervision")
    yield engine
    await engine.dispose()


async def _evaluate(
    engine: AsyncEngine, principal: Principal | None, case_id: str, rating: int, code: str | None = None
) -> Evaluation:
    async with session_scope(engine) as session:
        return await supervision_service.evaluate(
            session, principal, EvaluationIn(case_id=case_id, rating=rating, evaluation_code=code)
        )


async def _view(engine: AsyncEngine, case_id: str) -> CaseView:
    async with AsyncSession(engine) as session:
        view = await session.get(CaseView, case_id)
    assert view is not None
    return view


async def _stats(engine: AsyncEngine, principal: Principal, org_code: str, today: date) -> Stats:
    async with AsyncSession(engine) as session:
        return await supervision_service.stats(session, principal, org_code, today)


async def test_timeline_is_built_from_events_alone_oldest_first(net: Network, tmp_path: Path) -> None:
    case_id = await net.collect(TEKUN, required(TEKUN)[:1])
    await net.hand_up_from_village(case_id)
    await net.accept(case_id, [])  # one-time notice
    await net.accept(case_id, required(TEKUN))
    await net.hand_up_from_town(case_id)
    await net.decide(case_id, "approved", by=approver(COUNTY))
    await net.deliver(case_id)
    await _evaluate(net.supervision, agent(VILLAGE), case_id, 5)
    await net.pump()

    expected = [
        ("case.collected", "agents", VILLAGE),
        ("case.handed_up", "agents", VILLAGE),
        ("case.received", "intake", TOWN),
        ("case.notice_issued", "intake", TOWN),
        ("case.accepted", "intake", TOWN),
        ("case.handed_up", "intake", TOWN),
        ("case.received", "intake", COUNTY),
        ("case.decided", "approval", COUNTY),
        ("case.delivered", "agents", VILLAGE),
        ("case.evaluated", "supervision", VILLAGE),
    ]
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        shown = await supervision_routes.get_case(case_id, supervisor(COUNTY), session)
    assert (shown.case_id, shown.item_code, shown.status) == (case_id, TEKUN.item_code, "delivered")
    assert [(h.type, h.service, h.org_code) for h in shown.history] == expected
    assert [h.at for h in shown.history] == sorted(h.at for h in shown.history)

    # A fresh supervision database fed the same events, even in reverse order, tells the same story:
    # nothing but the events went into it.
    fresh = service_engine(tmp_path / "fresh", "supervision")
    await feed(fresh, "supervision", list(reversed(net.delivered)))
    async with AsyncSession(fresh) as session:
        history = [
            (e.type, e.service, e.org_code) for e in await supervision_service.timeline(session, case_id)
        ]
        replayed = await session.get(CaseView, case_id)
    await fresh.dispose()
    assert history == expected
    # The status only moves forward: the events' last word, whatever order they came in.
    assert replayed is not None and (replayed.status, replayed.origin_org) == ("delivered", VILLAGE)


async def test_case_not_yet_at_a_window_is_not_shown_as_received(net: Network, sup: AsyncEngine) -> None:
    """已收件(村) is not 已收件(窗口): a case the agent collected (or handed up, not yet received by the
    town) is shown as such, and as received once a hall has received it."""
    case_id = await net.collect(TEKUN, required(TEKUN))
    view = await net.get("supervision", CaseView, case_id)
    assert (view.status, view.current_org) == ("collected", VILLAGE)
    await net.hand_up_from_village(case_id)  # the town's hall receives it at once
    view = await net.get("supervision", CaseView, case_id)
    assert (view.status, view.current_org) == ("received", TOWN)

    # From events alone: collected, then handed up with the town not (yet) answering.
    alone = case_number(VILLAGE, 1)
    collected = case_events(alone, VILLAGE, accepted=False)
    handed_up = Envelope(
        source="agents",
        type=str(EventType.case_handed_up),
        subject=alone,
        time=collected[0].time + timedelta(minutes=5),
        data=CaseHandedUpV1(
            case_id=alone,
            org_code=VILLAGE,
            item_code=TEKUN.item_code,
            to_org=TOWN,
            handed_by=f"agent-{VILLAGE}",
            applicant=collected[0].data["applicant"],
            materials=[],
            origin_org=VILLAGE,
        ).model_dump(mode="json"),
    )
    await feed(sup, "supervision", collected)
    assert (await _view(sup, alone)).status == "collected"
    await feed(sup, "supervision", [handed_up])
    assert ((await _view(sup, alone)).status, (await _view(sup, alone)).current_org) == ("handed_up", TOWN)
    # Still a case in the village's subtree: it counts as received there (the count of every case).
    assert (await _stats(sup, supervisor(COUNTY), VILLAGE, date(2026, 11, 3))).received == 1


async def test_a_case_is_seen_by_every_unit_it_passed_through_and_no_other(net: Network) -> None:
    """A village's case decided by the county: the village, its town and the county see it (and count it);
    the neighbour village, the other town and another county do not."""
    case_id, _ = await net.decided_village_case()
    view = await net.get("supervision", CaseView, case_id)
    assert view.orgs == [VILLAGE, TOWN, COUNTY]
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        for insider in (agent(VILLAGE), clerk(TOWN), supervisor(COUNTY), approver(COUNTY)):
            assert (await supervision_service.visible_case(session, insider, case_id)).case_id == case_id
            shown, _entries = await supervision_service.case_timeline(session, insider, case_id)
            assert shown.case_id == case_id
        for outsider in (agent(NEIGHBOUR_VILLAGE), clerk(OTHER_TOWN), supervisor(FOREIGN_COUNTY)):
            with pytest.raises(NotFound):
                await supervision_service.visible_case(session, outsider, case_id)
            with pytest.raises(NotFound):
                await supervision_routes.get_case(case_id, outsider, session)
    for unit in (VILLAGE, TOWN, COUNTY):
        assert (await _stats(net.supervision, supervisor(COUNTY), unit, date(2026, 11, 3))).decided == 1
    for unit in (NEIGHBOUR_VILLAGE, OTHER_TOWN):
        assert (await _stats(net.supervision, supervisor(COUNTY), unit, date(2026, 11, 3))).received == 0


async def test_only_case_events_enter_the_read_models(sup: AsyncEngine) -> None:
    """The catalogue's events are not about a case; a case event of a type this code predates still
    joins the case's timeline (without moving its status)."""
    await feed(sup, "supervision", [item_published(TEKUN)])
    async with AsyncSession(sup) as session:
        assert (await session.exec(select(TimelineEntry))).all() == []
        assert (await session.exec(select(CaseView))).all() == []
    case_id = case_number(VILLAGE, 1)
    await feed(sup, "supervision", case_events(case_id, VILLAGE))
    suspended = Envelope(
        source="approval",
        type="case.suspended",
        subject=case_id,
        time=datetime(2026, 11, 3, 1, 0, tzinfo=UTC),
        data={"case_id": case_id, "org_code": VILLAGE, "item_code": TEKUN.item_code, "reason": "现场核查"},
    )
    await feed(sup, "supervision", [suspended])
    async with AsyncSession(sup) as session:
        types = [e.type for e in await supervision_service.timeline(session, case_id)]
    assert types == ["case.collected", "case.accepted", "case.suspended"]
    assert (await _view(sup, case_id)).status == "accepted"


async def test_case_is_received_once_and_stays_accepted_on_its_way_up(net: Network) -> None:
    """Accepted at the town, the case goes up to the county to be decided: supervision must not show an
    accepted case as merely "received" again (it is received once, and its clock is running)."""
    case_id, receipt = await net.accepted_village_case(TEKUN)
    assert (await net.get("supervision", CaseView, case_id)).status == "accepted"
    await net.hand_up_from_town(case_id)
    view = await net.get("supervision", CaseView, case_id)
    assert view.accepted_at is not None and view.due == receipt.due
    assert view.current_org == COUNTY
    assert view.status in ("accepted", "handed_up"), f"an accepted case is shown as {view.status!r}"


async def test_delivered_result_is_back_at_the_village(net: Network) -> None:
    """送达: once the agent has delivered the decision, the case is back with the villager, and the
    supervisor watching who holds it sees the village, as the agent's own record says."""
    case_id, _ = await net.decided_village_case()
    assert (await net.get("supervision", CaseView, case_id)).current_org == COUNTY
    delivered = await net.deliver(case_id)
    assert delivered.current_org == VILLAGE
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        shown = await supervision_routes.get_case(case_id, supervisor(COUNTY), session)
    assert shown.status == "delivered"
    assert shown.current_org == VILLAGE, "supervision still shows the county holding a delivered case"


async def test_one_rating_per_case(net: Network) -> None:
    case_id, receipt = await net.decided_village_case()
    rated = await _evaluate(net.supervision, agent(VILLAGE), case_id, 5)
    assert (rated.case_id, rated.rating, rated.rated_by) == (case_id, 5, f"agent-{VILLAGE}")
    # Neither the agent again nor the applicant with the receipt's code rates it a second time.
    for principal, code in ((agent(VILLAGE), None), (None, receipt.evaluation_code)):
        with pytest.raises(Conflict) as again:
            await _evaluate(net.supervision, principal, case_id, 1, code)
        assert again.value.slug == "already-rated"
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        assert [e.rating for e in (await session.exec(select(Evaluation))).all()] == [5]
    assert len(await outbox(net.supervision, "case.evaluated", case_id)) == 1


async def test_rating_only_after_decision(net: Network) -> None:
    collected = await net.collect(TEKUN, required(TEKUN))
    accepted, receipt = await net.accepted_village_case(TEKUN)
    for case_id in (collected, accepted):
        with pytest.raises(Conflict) as early:
            await _evaluate(net.supervision, agent(VILLAGE), case_id, 5)
        assert early.value.slug == "case-not-decided"
    with pytest.raises(Conflict):
        await _evaluate(net.supervision, None, accepted, 5, receipt.evaluation_code)
    assert await outbox(net.supervision) == []
    # Decided (and, later, delivered): now it may be rated.
    await net.hand_up_from_town(accepted)
    await net.decide(accepted, "rejected", reason="不符合特困供养条件", by=approver(COUNTY))
    assert (await _evaluate(net.supervision, agent(VILLAGE), accepted, 2)).rating == 2


async def test_applicant_rates_with_receipt_code(net: Network) -> None:
    case_id, receipt = await net.decided_village_case()
    other_id, other_receipt = await net.decided_village_case()
    assert receipt.evaluation_code != other_receipt.evaluation_code
    # No token and no code: who is rating?
    with pytest.raises(Unauthorized):
        await _evaluate(net.supervision, None, case_id, 4)
    # A wrong code, or another case's code, finds nothing.
    for wrong in ("00000000", other_receipt.evaluation_code):
        with pytest.raises(NotFound):
            await _evaluate(net.supervision, None, case_id, 4, wrong)
    # Only the village agent rates with a token, and only for the village's cases.
    for principal in (clerk(TOWN), supervisor(COUNTY)):
        with pytest.raises(Forbidden):
            await _evaluate(net.supervision, principal, case_id, 4)
    with pytest.raises(NotFound):
        await _evaluate(net.supervision, agent(NEIGHBOUR_VILLAGE), case_id, 4)
    # The code as printed on the receipt, even typed in lower case with spaces, rates the case.
    rated = await _evaluate(net.supervision, None, case_id, 4, f" {receipt.evaluation_code.lower()} ")
    assert (rated.rating, rated.rated_by) == (4, "applicant")
    [event] = await outbox(net.supervision, "case.evaluated", case_id)
    assert CaseEvaluatedV1.model_validate(event.data).rated_by == "applicant"


async def test_bad_ratings_are_1_and_2(sup: AsyncEngine) -> None:
    cases = {rating: case_number(VILLAGE, rating) for rating in range(1, 6)}
    for case_id in cases.values():
        await feed(sup, "supervision", case_events(case_id, VILLAGE, deciding_org=COUNTY, decided=True))
    for rating, case_id in cases.items():
        await _evaluate(sup, agent(VILLAGE), case_id, rating)
    events = [CaseEvaluatedV1.model_validate(e.data) for e in await outbox(sup, "case.evaluated")]
    # 不满意 (2) and 非常不满意 (1) are bad ratings; 基本满意 (3) and better are not.
    assert {e.rating: e.bad for e in events} == {1: True, 2: True, 3: False, 4: False, 5: False}
    # The ratings come back to supervision as events and make the satisfaction rate.
    await feed(sup, "supervision", await outbox(sup, "case.evaluated"))
    assert (await _stats(sup, supervisor(COUNTY), COUNTY, date(2026, 11, 3))).satisfaction_rate == 0.6


async def _seed_county(sup: AsyncEngine) -> dict[str, str]:
    """Six cases: five in the county (two towns), one in another county."""
    cases = {
        "collected": case_number(VILLAGE, 1),
        "waiting": case_number(VILLAGE, 2),
        "on_time": case_number(NEIGHBOUR_VILLAGE, 1),
        "late": case_number(FAR_VILLAGE, 1),
        "overdue": case_number(NEIGHBOUR_VILLAGE, 2),
        "foreign": case_number(FOREIGN_VILLAGE, 1),
    }
    await feed(sup, "supervision", case_events(cases["collected"], VILLAGE, accepted=False))
    await feed(sup, "supervision", case_events(cases["waiting"], VILLAGE, due=date(2026, 11, 30)))
    await feed(sup, "supervision", case_events(cases["on_time"], NEIGHBOUR_VILLAGE, decided=True))
    await feed(
        sup,
        "supervision",
        case_events(cases["late"], FAR_VILLAGE, due=date(2026, 11, 3), decided=True, on_time=False),
    )
    await feed(sup, "supervision", case_events(cases["overdue"], NEIGHBOUR_VILLAGE, due=date(2026, 11, 20)))
    await feed(sup, "supervision", case_events(cases["foreign"], FOREIGN_VILLAGE, decided=True))
    await feed(
        sup,
        "supervision",
        [
            rating_event(cases["on_time"], NEIGHBOUR_VILLAGE, 5),
            rating_event(cases["late"], FAR_VILLAGE, 1),
            rating_event(cases["foreign"], FOREIGN_VILLAGE, 2),
        ],
    )
    return cases


async def test_stats_count_the_subtree(sup: AsyncEngine) -> None:
    await _seed_county(sup)
    today = date(2026, 11, 25)
    county = await _stats(sup, supervisor(COUNTY), COUNTY, today)
    assert county.model_dump() == {
        "org_code": COUNTY,
        "received": 5,
        "accepted": 4,
        "decided": 2,
        "on_time_rate": 0.5,
        "satisfaction_rate": 0.5,
        "overdue": 2,  # one undecided past its date, one decided late
    }
    town = await _stats(sup, supervisor(COUNTY), TOWN, today)
    assert (town.received, town.accepted, town.decided, town.on_time_rate, town.satisfaction_rate) == (
        4,
        3,
        1,
        1.0,
        1.0,
    )
    assert town.overdue == 1
    other_town = await _stats(sup, supervisor(COUNTY), OTHER_TOWN, today)
    assert (other_town.received, other_town.on_time_rate, other_town.satisfaction_rate) == (1, 0.0, 0.0)
    village = await _stats(sup, supervisor(COUNTY), VILLAGE, today)
    assert (village.received, village.accepted, village.decided, village.on_time_rate) == (2, 1, 0, None)
    # The other county's supervisor counts only its own case.
    foreign = await _stats(sup, supervisor(FOREIGN_COUNTY), FOREIGN_COUNTY, today)
    assert (foreign.received, foreign.decided, foreign.satisfaction_rate) == (1, 1, 0.0)


async def test_overdue_counts_undecided_cases_past_due(sup: AsyncEngine) -> None:
    past_due, due_today, not_accepted, early = (case_number(VILLAGE, n) for n in range(1, 5))
    await feed(sup, "supervision", case_events(past_due, VILLAGE, due=date(2026, 11, 24)))
    await feed(sup, "supervision", case_events(due_today, VILLAGE, due=date(2026, 11, 25)))
    await feed(sup, "supervision", case_events(not_accepted, VILLAGE, accepted=False))
    await feed(sup, "supervision", case_events(early, VILLAGE, due=date(2026, 11, 24), decided=True))
    boss = supervisor(COUNTY)
    assert (
        await _stats(sup, boss, COUNTY, date(2026, 11, 25))
    ).overdue == 1  # the promised date itself is in time
    assert (await _stats(sup, boss, COUNTY, date(2026, 11, 26))).overdue == 2
    # Deciding an overdue case late leaves it counted as overdue (decided late), not forgotten.
    await feed(
        sup,
        "supervision",
        case_events(past_due, VILLAGE, due=date(2026, 11, 24), decided=True, on_time=False)[2:],
    )
    assert (await _stats(sup, boss, COUNTY, date(2026, 11, 25))).overdue == 1
    assert (await _stats(sup, boss, COUNTY, date(2026, 11, 25))).on_time_rate == 0.5


async def test_supervisor_sees_county_not_other_county(sup: AsyncEngine) -> None:
    cases = await _seed_county(sup)
    ours, theirs = cases["waiting"], cases["foreign"]
    today = date(2026, 11, 25)
    async with AsyncSession(sup, expire_on_commit=False) as session:
        assert (
            await supervision_service.visible_case(session, supervisor(COUNTY), ours)
        ).origin_org == VILLAGE
        with pytest.raises(NotFound):
            await supervision_service.visible_case(session, supervisor(COUNTY), theirs)
        assert await supervision_service.visible_case(session, supervisor(FOREIGN_COUNTY), theirs)
        with pytest.raises(NotFound):
            await supervision_service.visible_case(session, supervisor(FOREIGN_COUNTY), ours)
        # A town sees its own cases, not its neighbour town's.
        with pytest.raises(NotFound):
            await supervision_service.visible_case(session, clerk(OTHER_TOWN), ours)
    with pytest.raises(Forbidden):
        await _stats(sup, supervisor(COUNTY), FOREIGN_COUNTY, today)
    with pytest.raises(Forbidden):
        await _stats(sup, supervisor(COUNTY), FOREIGN_VILLAGE, today)
    with pytest.raises(Forbidden):
        await _stats(sup, supervisor(TOWN), COUNTY, today)
    with pytest.raises(Forbidden):
        await _stats(sup, supervisor(TOWN), OTHER_TOWN, today)


async def test_consumer_redelivery_does_not_duplicate_timeline(sup: AsyncEngine) -> None:
    case_id = case_number(VILLAGE, 1)
    collected, accepted, decided = case_events(case_id, VILLAGE, decided=True)
    rated = rating_event(case_id, VILLAGE, 2)
    subscription = SUBSCRIPTIONS["supervision"]
    for envelope in (collected, accepted, decided, rated):
        body = envelope.model_dump_json().encode()
        assert await apply_once(sup, subscription, envelope.nats_subject, body)
        assert await apply_once(sup, subscription, envelope.nats_subject, body)  # redelivered: acked again
    async with AsyncSession(sup, expire_on_commit=False) as session:
        entries = (await session.exec(select(TimelineEntry).where(TimelineEntry.case_id == case_id))).all()
        assert [e.type for e in entries] == [
            "case.collected",
            "case.accepted",
            "case.decided",
            "case.evaluated",
        ]
        assert len((await session.exec(select(InboxEvent))).all()) == 4
        view = await session.get(CaseView, case_id)
    assert (view.status, view.rating) == ("decided", 2)
    stats = await _stats(sup, supervisor(COUNTY), COUNTY, date(2026, 11, 25))
    assert (stats.received, stats.accepted, stats.decided) == (1, 1, 1)


async def test_malformed_case_number_is_refused_before_any_lookup(sup: AsyncEngine) -> None:
    good = case_number(VILLAGE, 1)
    mistyped = good[:-1] + ("0" if good[-1] != "0" else "1")
    for bad in (mistyped, "not-a-case-number", good.lower() + " "):
        with pytest.raises(InvalidInput) as refused:
            await _evaluate(sup, agent(VILLAGE), bad, 5)
        assert refused.value.type == "urn:weimin:problem:malformed-case-number"
