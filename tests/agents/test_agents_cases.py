"""Village proxy agents (代办员): collect, hand up to the village's own town, follow, deliver.

Plain service functions against real SQLite files; events travel between the services' databases as
the bus would carry them (``tests.case_fixtures.Network``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents import service as agents_service
from services.agents.models import AgentCase
from services.agents.routes import _read as agent_case_read
from services.agents.schemas import AgentCasePage
from services.approval.models import ApprovalCase
from services.intake import service as intake_service
from services.intake.models import IntakeCase, Receipt
from services.intake.routes import _read as intake_case_read
from services.intake.schemas import IntakeCasePage
from services.supervision import service as supervision_service
from services.supervision.models import CaseView, TimelineEntry
from shared.case_numbers import parse_case_number
from shared.case_sequences import CaseSequence
from shared.clock import today_cn
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events import EventType
from shared.events.types import CaseHandedUpV1
from shared.identity_numbers import mask_id_number
from shared.item_copies import ItemCopy
from tests.case_fixtures import (
    COUNTY,
    DIBAO,
    FAR_VILLAGE,
    LICENCE,
    NEIGHBOUR_VILLAGE,
    OTHER_TOWN,
    TEKUN,
    TOWN,
    VILLAGE,
    Network,
    agent,
    approver,
    clerk,
    item_retired,
    outbox,
    required,
    submission,
    supervisor,
    villager,
)


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    network = await Network.create(tmp_path)
    yield network
    await network.close()


async def test_agent_collects_only_items_a_village_agent_may_take(net: Network) -> None:
    # 低保 may be taken by a village agent: the case is recorded at the village.
    case_id = await net.collect(DIBAO, required(DIBAO))
    case = await net.get("agents", AgentCase, case_id)
    assert (case.status, case.current_org, case.village_code) == ("collected", VILLAGE, VILLAGE)

    async def collect(item, principal):  # type: ignore[no-untyped-def]
        async with session_scope(net.agents) as session:
            return await agents_service.collect_case(session, principal, submission(item, []), today_cn())

    # 营业执照 is not an item a village agent may take.
    with pytest.raises(InvalidInput) as refused:
        await collect(LICENCE, agent(VILLAGE))
    assert refused.value.slug == "item-not-for-agents"
    # Only an agent of a village station collects: not a clerk, not an "agent" posted at a town.
    with pytest.raises(Forbidden):
        await collect(DIBAO, clerk(TOWN))
    with pytest.raises(Forbidden) as town_agent:
        await collect(DIBAO, agent(TOWN))
    assert town_agent.value.slug == "not-a-village-agent"
    # An item the county has retired is no longer taken.
    await net.broadcast(item_retired(DIBAO))
    with pytest.raises(InvalidInput) as retired:
        await collect(DIBAO, agent(VILLAGE))
    assert retired.value.slug == "unknown-item"
    # Nothing refused was stored: one case, one event.
    async with AsyncSession(net.agents, expire_on_commit=False) as session:
        assert [c.case_id for c in (await session.exec(select(AgentCase))).all()] == [case_id]
    assert [e.subject for e in await outbox(net.agents, "case.collected")] == [case_id]


async def test_case_number_is_minted_at_the_village_and_never_changes(net: Network) -> None:
    case_id = await net.collect(TEKUN, required(TEKUN))
    number = parse_case_number(case_id)
    assert number.org_code == VILLAGE and number.day == today_cn() and number.sequence == 1

    await net.hand_up_from_village(case_id)
    receipt, _ = await net.accept(case_id, [])
    assert receipt is not None and receipt.case_id == case_id
    await net.hand_up_from_town(case_id)
    await net.decide(case_id, "approved", by=approver(COUNTY))
    await net.deliver(case_id)

    # The same number at every level, in every service's own records.
    assert (await net.get("agents", AgentCase, case_id)).status == "delivered"
    assert (await net.get("intake", IntakeCase, case_id)).current_org == COUNTY
    assert (await net.get("approval", ApprovalCase, case_id)).outcome == "approved"
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        assert (await session.get(CaseView, case_id)).status == "delivered"
        assert {e.case_id for e in (await session.exec(select(TimelineEntry))).all()} == {case_id}
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        assert [c.case_id for c in (await session.exec(select(IntakeCase))).all()] == [case_id]
        assert (await session.exec(select(Receipt))).one().case_id == case_id
        # Neither the town nor the county hall minted a number of its own.
        assert (await session.exec(select(CaseSequence))).all() == []
    # Every event of the case's life, from every service, speaks of that one number.
    case_events = [e for e in net.delivered if e.type.startswith("case.")]
    assert {e.type for e in case_events} >= {
        "case.collected",
        "case.handed_up",
        "case.received",
        "case.accepted",
        "case.decided",
        "case.delivered",
    }
    assert {e.subject for e in case_events} == {case_id}
    assert {e.data["case_id"] for e in case_events} == {case_id}


async def test_agent_sees_only_own_village(net: Network) -> None:
    case_id = await net.collect(DIBAO, required(DIBAO))
    mine = agent(VILLAGE)
    backup = agent(VILLAGE, "agent-b-371424100201")  # AB岗: the village's other agent
    neighbour, far = agent(NEIGHBOUR_VILLAGE), agent(FAR_VILLAGE)
    await net.collect(DIBAO, required(DIBAO), by=neighbour)

    async with AsyncSession(net.agents, expire_on_commit=False) as session:
        assert (await agents_service.get_case(session, mine, case_id)).case_id == case_id
        assert (await agents_service.get_case(session, backup, case_id)).case_id == case_id
        for stranger in (neighbour, far, clerk(OTHER_TOWN), supervisor("371425000000")):
            with pytest.raises(NotFound):
                await agents_service.get_case(session, stranger, case_id)
        # The town that governs the village, and the county above it, see it.
        for governing in (clerk(TOWN), supervisor(COUNTY)):
            assert (await agents_service.get_case(session, governing, case_id)).village_code == VILLAGE

        async def listed(principal):  # type: ignore[no-untyped-def]
            page = await agents_service.list_cases(session, principal, status=None, after=None, limit=50)
            cases = page.items
            return {c.village_code for c in cases}

        assert await listed(mine) == {VILLAGE}
        assert await listed(neighbour) == {NEIGHBOUR_VILLAGE}
        assert await listed(far) == set()
        assert await listed(clerk(TOWN)) == {VILLAGE, NEIGHBOUR_VILLAGE}
        assert await listed(supervisor(COUNTY)) == {VILLAGE, NEIGHBOUR_VILLAGE}

    # A stranger cannot move the case either; the village's backup agent can.
    async def deliver(s, p, c):  # type: ignore[no-untyped-def]
        return await agents_service.deliver(s, p, c, "agent")

    for action in (agents_service.hand_up, deliver):
        with pytest.raises(NotFound):
            async with session_scope(net.agents) as session:
                await action(session, neighbour, case_id)
    # Governing is not acting: the town clerk does not hand up a village's case.
    with pytest.raises(Forbidden):
        async with session_scope(net.agents) as session:
            await agents_service.hand_up(session, clerk(TOWN), case_id)
    await net.hand_up_from_village(case_id, by=backup)
    assert (await net.get("agents", AgentCase, case_id)).status == "handed_up"


async def test_handoff_goes_to_the_villages_own_town(net: Network) -> None:
    far_agent = agent(FAR_VILLAGE)
    case_id = await net.collect(DIBAO, required(DIBAO), by=far_agent)
    handed = await net.hand_up_from_village(case_id, by=far_agent)
    assert handed.current_org == OTHER_TOWN  # 宿安乡示例南村 → 宿安乡, never another town

    [event] = await outbox(net.agents, "case.handed_up", case_id)
    payload = CaseHandedUpV1.model_validate(event.data)
    assert (payload.org_code, payload.to_org, payload.origin_org) == (FAR_VILLAGE, OTHER_TOWN, FAR_VILLAGE)

    # The town hall received it (from the event alone) and its clerk can act on it; the other town cannot.
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        case = await intake_service.get_case(session, clerk(OTHER_TOWN), case_id)
        assert (case.current_org, case.origin_org, case.channel) == (OTHER_TOWN, FAR_VILLAGE, "handoff")
        with pytest.raises(NotFound):
            await intake_service.get_case(session, clerk(TOWN), case_id)
    with pytest.raises(NotFound):
        async with session_scope(net.intake) as session:
            await intake_service.accept(session, clerk(TOWN), case_id, [], today_cn())
    receipt, _ = await net.accept(case_id, [], by=clerk(OTHER_TOWN))
    assert receipt is not None and receipt.org_code == OTHER_TOWN

    # A case is handed up once.
    with pytest.raises(Conflict):
        async with session_scope(net.agents) as session:
            await agents_service.hand_up(session, far_agent, case_id)


async def test_delivery_only_after_decision(net: Network) -> None:
    case_id, _ = await net.accepted_village_case(DIBAO)  # decided by the town

    async def deliver(principal=None):  # type: ignore[no-untyped-def]
        async with session_scope(net.agents) as session:
            return await agents_service.deliver(session, principal or agent(VILLAGE), case_id, "agent")

    with pytest.raises(Conflict) as early:
        await deliver()
    assert early.value.slug == "case-not-decided"

    await net.decide(case_id, "rejected", reason="家庭收入高于当地低保标准", by=approver(TOWN))
    case = await net.get("agents", AgentCase, case_id)
    assert (case.status, case.outcome, case.decision_reason) == (
        "decided",
        "rejected",
        "家庭收入高于当地低保标准",
    )

    with pytest.raises(NotFound):
        await deliver(agent(NEIGHBOUR_VILLAGE))
    delivered = await deliver()
    assert (delivered.status, delivered.current_org, delivered.delivered_by) == (
        "delivered",
        VILLAGE,
        f"agent-{VILLAGE}",
    )
    assert delivered.delivered_at is not None
    with pytest.raises(Conflict) as again:
        await deliver()
    assert again.value.slug == "case-already-delivered"
    assert len(await outbox(net.agents, "case.delivered", case_id)) == 1


async def test_id_number_masked_in_every_list(net: Network) -> None:
    applicant = villager("457", name="欧阳小明")
    full, masked = applicant.id_number, mask_id_number(applicant.id_number)
    assert masked != full and masked[:6] == full[:6] and masked[-4:] == full[-4:]
    case_id = await net.collect(DIBAO, required(DIBAO), applicant=applicant)
    await net.hand_up_from_village(case_id)

    async with AsyncSession(net.agents, expire_on_commit=False) as session:
        case = await agents_service.get_case(session, agent(VILLAGE), case_id)
        listed = (
            await agents_service.list_cases(session, clerk(TOWN), status=None, after=None, limit=10)
        ).items
        views = [
            agent_case_read(case).model_dump_json(),
            AgentCasePage(items=[agent_case_read(c) for c in listed]).model_dump_json(),
        ]
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        case = await intake_service.get_case(session, clerk(TOWN), case_id)
        listed = (
            await intake_service.list_cases(session, supervisor(COUNTY), status=None, after=None, limit=10)
        ).items
        views += [
            intake_case_read(case).model_dump_json(),
            IntakeCasePage(items=[intake_case_read(c) for c in listed]).model_dump_json(),
        ]
    for view in views:
        assert full not in view
        assert masked in view
        assert "欧阳小明" not in view and "欧**明" in view
        assert "13812345678" not in view and "138****5678" in view
    # Supervision's read models keep no personal data at all.
    async with AsyncSession(net.supervision, expire_on_commit=False) as session:
        assert (
            full
            not in (
                await supervision_service.visible_case(session, supervisor(COUNTY), case_id)
            ).model_dump_json()
        )


async def test_agent_follows_the_case_up_to_the_county(net: Network) -> None:
    case_id, _ = await net.accepted_village_case(TEKUN)
    assert (await net.get("agents", AgentCase, case_id)).current_org == TOWN
    await net.hand_up_from_town(case_id)
    # The agent learns from intake's event where the case went; the agent status stays "handed up".
    case = await net.get("agents", AgentCase, case_id)
    assert (case.status, case.current_org) == ("handed_up", COUNTY)


async def test_case_collected_before_an_item_is_retired_still_reaches_the_town(net: Network) -> None:
    """A villager's case, collected under the published catalogue, is not lost when the item is retired
    before the agent hands it up: the town hall still receives it under its number."""
    case_id = await net.collect(DIBAO, required(DIBAO))
    await net.broadcast(item_retired(DIBAO))
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        assert (await session.get(ItemCopy, DIBAO.item_code)).retired
    async with session_scope(net.agents) as session:
        await agents_service.hand_up(session, agent(VILLAGE), case_id)
    applied = await net.pump(strict=False)
    handoff = next(e for e in applied if e.type == EventType.case_handed_up)
    assert handoff.subject == case_id
    # The intake consumer must be able to apply (and ack) the hand-up, or it is redelivered forever.
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        received = await session.get(IntakeCase, case_id)
    assert received is not None, "the town hall never receives the case: the hand-up is a poison message"
    assert received.current_org == TOWN
