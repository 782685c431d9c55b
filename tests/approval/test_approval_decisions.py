"""Approval: the deciding level decides a case it learned of from intake's events, once, with reasons
for a refusal, and against the promised date."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents.models import AgentCase
from services.approval import service as approval_service
from services.approval.models import ApprovalCase
from services.approval.routes import _read
from services.approval.schemas import DecisionIn, Outcome
from services.intake.models import IntakeCase
from services.supervision.models import CaseView
from shared.auth import Principal
from shared.case_status import CaseStatus
from shared.clock import today_cn
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import Envelope, EventType
from shared.events.types import CaseDecidedV1, CaseReceivedV1
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    OTHER_TOWN,
    TEKUN,
    TOWN,
    VILLAGE,
    Network,
    approver,
    case_events,
    case_number,
    clerk,
    feed,
    outbox,
    service_engine,
    supervisor,
)

CITY = "371400000000"  # 德州市, above the demo county


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    network = await Network.create(tmp_path)
    yield network
    await network.close()


@pytest.fixture
async def approval(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An approval database alone, fed hand-built events."""
    engine = service_engine(tmp_path / "alone", "approval")
    yield engine
    await engine.dispose()


async def _decide(
    engine: AsyncEngine,
    principal: Principal,
    case_id: str,
    outcome: str = "approved",
    reason: str | None = None,
) -> ApprovalCase:
    async with session_scope(engine) as session:
        return await approval_service.decide(
            session, principal, case_id, DecisionIn(outcome=Outcome(outcome), reason=reason)
        )


def _received(case_id: str, hall: str, origin: str) -> Envelope:
    """Intake's event: the hall above received a case handed up to it."""
    return Envelope(
        source="intake",
        type=str(EventType.case_received),
        subject=case_id,
        data=CaseReceivedV1(
            case_id=case_id, org_code=hall, item_code=TEKUN.item_code, channel="handoff", origin_org=origin
        ).model_dump(mode="json"),
    )


async def test_approval_learns_of_case_from_intake_events(net: Network) -> None:
    case_id = await net.village_case_at_town(TEKUN)
    # Received at the town but not accepted: approval knows nothing of it yet.
    assert await net.get("approval", ApprovalCase, case_id) is None
    receipt, _ = await net.accept(case_id, [])
    assert receipt is not None
    case = await net.get("approval", ApprovalCase, case_id)
    # Waiting for the deciding level: accepted, not yet decided.
    assert case is not None and case.status == "accepted"
    # What the receipt promised is what the deciding level works against.
    assert (case.due, case.due_provisional, case.promised_days) == (
        receipt.due,
        receipt.due_provisional,
        TEKUN.promised_days,
    )
    assert (case.origin_org, case.current_org, case.deciding_org) == (VILLAGE, TOWN, COUNTY)
    # The name comes masked: intake never puts it in clear on the bus (approval needs no more).
    assert (case.item_code, case.item_name, case.applicant_name) == (TEKUN.item_code, TEKUN.name, "张*丰")
    # The town's hand-up moves it in the county's queue.
    await net.hand_up_from_town(case_id)
    assert (await net.get("approval", ApprovalCase, case_id)).current_org == COUNTY
    async with AsyncSession(net.approval) as session:
        queue = (
            await approval_service.list_cases(
                session, approver(COUNTY), status=CaseStatus.accepted, after=None, limit=10
            )
        ).items
        assert [c.case_id for c in queue] == [case_id]
        assert (
            await approval_service.list_cases(session, approver(TOWN), status=None, after=None, limit=10)
        ).items == []


async def test_approval_learns_of_case_from_events_alone(approval: AsyncEngine) -> None:
    """A fresh approval database fed nothing but intake's events holds the case."""
    case_id = case_number(VILLAGE, 1)
    accepted = case_events(case_id, VILLAGE, deciding_org=TOWN)[1]
    await feed(approval, "approval", [accepted, accepted])  # a redelivery opens nothing twice
    async with AsyncSession(approval) as session:
        [case] = (await session.exec(select(ApprovalCase))).all()
    assert (case.case_id, case.deciding_org, case.status) == (case_id, TOWN, "accepted")


async def test_only_approver_of_deciding_level_decides(net: Network) -> None:
    case_id, _ = await net.accepted_village_case(DIBAO)  # the town decides 低保
    # The county governs the town but does not decide the town's items.
    with pytest.raises(Forbidden) as county:
        await _decide(net.approval, approver(COUNTY), case_id)
    assert county.value.slug == "not-the-deciding-unit"
    # A clerk or a supervisor of the very town is not an approver.
    for not_approver in (clerk(TOWN), supervisor(TOWN)):
        with pytest.raises(Forbidden):
            await _decide(net.approval, not_approver, case_id)
    # Another town's approver does not even see it.
    with pytest.raises(NotFound):
        await _decide(net.approval, approver(OTHER_TOWN), case_id)
    assert (await net.get("approval", ApprovalCase, case_id)).status == "accepted"
    assert await outbox(net.approval) == []

    decided = await net.decide(case_id, "approved", by=approver(TOWN))
    assert (decided.status, decided.outcome, decided.decided_by) == (
        "decided",
        "approved",
        f"approver-{TOWN}",
    )
    # The decision reaches the town hall and the village agent.
    assert (await net.get("intake", IntakeCase, case_id)).status == "decided"
    assert (await net.get("agents", AgentCase, case_id)).status == "decided"


async def test_city_decided_case_is_decided_by_the_city_approver(approval: AsyncEngine) -> None:
    """Intake's ``case.accepted`` names the deciding unit; for a city-decided item that is the city, and
    only the city's approver decides it, once it has reached the city's hall."""
    case_id = case_number(VILLAGE, 1)
    accepted = case_events(case_id, VILLAGE, deciding_org=CITY)[1]
    # Accepted at the village's town hall; the city decides.
    accepted = accepted.model_copy(update={"data": {**accepted.data, "org_code": TOWN}})
    await feed(approval, "approval", [accepted])
    case = await _get(approval, case_id)
    assert (case.deciding_org, case.current_org, case.status) == (CITY, TOWN, "accepted")
    # The city sees it in its queue (the county's queue is for what the county decides).
    async with AsyncSession(approval) as session:
        city_queue = await approval_service.list_cases(
            session, approver(CITY), status=None, after=None, limit=10
        )
        county_queue = await approval_service.list_cases(
            session, approver(COUNTY), status=None, after=None, limit=10
        )
    assert [c.case_id for c in city_queue.items] == [case_id] and county_queue.items == []
    # Not there yet: even the city waits.
    with pytest.raises(Conflict) as waiting:
        await _decide(approval, approver(CITY), case_id)
    assert waiting.value.slug == "case-not-arrived"
    await feed(approval, "approval", [_received(case_id, COUNTY, VILLAGE), _received(case_id, CITY, VILLAGE)])
    # The county (which governs the village the case came from) and the town do not decide it.
    for below in (approver(COUNTY), approver(TOWN)):
        with pytest.raises(Forbidden) as refused:
            await _decide(approval, below, case_id)
        assert refused.value.slug == "not-the-deciding-unit"
    decided = await _decide(approval, approver(CITY), case_id)
    assert (decided.status, decided.decided_by, decided.current_org) == ("decided", f"approver-{CITY}", CITY)
    [event] = await outbox(approval, "case.decided", case_id)
    assert CaseDecidedV1.model_validate(event.data).org_code == CITY


async def test_decision_waits_until_case_reaches_deciding_hall(net: Network) -> None:
    case_id, _ = await net.accepted_village_case(TEKUN)  # accepted at the town; the county decides
    with pytest.raises(Conflict) as waiting:
        await _decide(net.approval, approver(COUNTY), case_id)
    assert waiting.value.slug == "case-not-arrived"
    assert (await net.get("approval", ApprovalCase, case_id)).status == "accepted"

    await net.hand_up_from_town(case_id)
    decided = await net.decide(case_id, "approved", by=approver(COUNTY))
    assert decided.status == "decided" and decided.current_org == COUNTY


async def test_rejection_requires_reasons(net: Network) -> None:
    for blank in (None, "", "   \n"):
        with pytest.raises(ValidationError):
            DecisionIn(outcome=Outcome.rejected, reason=blank)
    # Approval needs no reason.
    assert DecisionIn(outcome=Outcome.approved).reason is None

    case_id, _ = await net.accepted_village_case(DIBAO)
    refused = await net.decide(case_id, "rejected", reason="家庭人均收入高于低保标准", by=approver(TOWN))
    assert (refused.outcome, refused.reason) == ("rejected", "家庭人均收入高于低保标准")
    [event] = await outbox(net.approval, "case.decided", case_id)
    decided = CaseDecidedV1.model_validate(event.data)
    assert (decided.outcome, decided.reason) == ("rejected", "家庭人均收入高于低保标准")
    # The villager's agent receives the reasons with the refusal.
    assert (await net.get("agents", AgentCase, case_id)).decision_reason == "家庭人均收入高于低保标准"
    assert _read(refused).reason == "家庭人均收入高于低保标准"


async def test_case_decided_once(net: Network) -> None:
    case_id, _ = await net.accepted_village_case(DIBAO)
    await net.decide(case_id, "approved", by=approver(TOWN))
    for outcome, reason in (("approved", None), ("rejected", "改判")):
        with pytest.raises(Conflict) as again:
            await _decide(net.approval, approver(TOWN), case_id, outcome, reason)
        assert again.value.slug == "case-already-decided"
    case = await net.get("approval", ApprovalCase, case_id)
    assert (case.outcome, case.reason) == ("approved", None)
    assert len(await outbox(net.approval, "case.decided", case_id)) == 1
    # A redelivered acceptance does not reopen the decided case.
    accepted = next(e for e in net.delivered if e.type == "case.accepted" and e.subject == case_id)
    await feed(net.approval, "approval", [accepted.model_copy(update={"id": "redelivered-as-new-id"})])
    assert (await net.get("approval", ApprovalCase, case_id)).status == "decided"


async def test_a_decision_written_over_a_stale_read_is_refused_and_announces_nothing(
    approval: AsyncEngine,
) -> None:
    """The guarded update itself, whatever the database's isolation: a request whose read of the case
    is older than the case (here: kept in its session while another approver decided) writes nothing."""
    case_id = case_number(VILLAGE, 31)
    await feed(approval, "approval", case_events(case_id, VILLAGE, deciding_org=COUNTY)[1:])
    async with AsyncSession(approval, expire_on_commit=False) as late:
        seen = await late.get(ApprovalCase, case_id)
        assert seen is not None and (seen.status, seen.version) == ("accepted", 1)
        await late.commit()  # the read is over; the loaded case stays in the session as it was
        await _decide(approval, approver(COUNTY), case_id, "approved")
        with pytest.raises(Conflict) as lost:
            await approval_service.decide(
                late, approver(COUNTY), case_id, DecisionIn(outcome=Outcome.rejected, reason="改判")
            )
        await late.rollback()
    assert lost.value.slug == "case-changed" and "decided" in lost.value.detail
    stored = await _get(approval, case_id)
    assert (stored.outcome, stored.version) == ("approved", 2)
    assert [e.data["outcome"] for e in await outbox(approval, "case.decided", case_id)] == ["approved"]


async def _get(engine: AsyncEngine, case_id: str) -> ApprovalCase:
    async with AsyncSession(engine) as session:
        case = await session.get(ApprovalCase, case_id)
    assert case is not None
    return case


async def test_on_time_flag_against_promised_date(approval: AsyncEngine) -> None:
    today = today_cn()
    due_today, overdue = case_number(TOWN, 1), case_number(TOWN, 2)
    for case_id, due in ((due_today, today), (overdue, today - timedelta(days=1))):
        await feed(approval, "approval", case_events(case_id, TOWN, due=due)[1:])

    on_due_date = await _decide(approval, approver(TOWN), due_today)
    late = await _decide(approval, approver(TOWN), overdue)
    # Decided on the promised date is on time; a day after it is late.
    assert on_due_date.on_time is True
    assert late.on_time is False
    events = {e.subject: CaseDecidedV1.model_validate(e.data) for e in await outbox(approval, "case.decided")}
    assert events[due_today].on_time is True and events[overdue].on_time is False
    assert events[overdue].due == today - timedelta(days=1)


async def test_decision_reaches_supervision_with_its_timeliness(net: Network) -> None:
    case_id, receipt = await net.decided_village_case()
    view = await net.get("supervision", CaseView, case_id)
    assert (view.status, view.outcome, view.on_time, view.due) == ("decided", "approved", True, receipt.due)


async def _get(engine: AsyncEngine, case_id: str) -> ApprovalCase:
    async with AsyncSession(engine) as session:
        case = await session.get(ApprovalCase, case_id)
    assert case is not None
    return case
