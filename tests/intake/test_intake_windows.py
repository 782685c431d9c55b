"""One-window acceptance (一窗受理) at the town, county and city halls: one-time notices, receipts,
promised dates in working days, 首问负责, jurisdiction, and hand-ups hall by hall to the deciding level."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.agents.models import AgentCase
from services.approval.models import ApprovalCase
from services.intake import service as intake_service
from services.intake.models import IntakeCase, OneTimeNotice
from services.intake.routes import _notice, _read, _receipt
from shared.auth import Principal
from shared.case_numbers import parse_case_number
from shared.clock import today_cn
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.types import CaseAcceptedV1, CaseHandedUpV1, CaseReceivedV1
from shared.workdays import add_working_days
from tests.case_fixtures import (
    CITY,
    CITY_ITEM,
    COUNTY,
    DIBAO,
    FAR_VILLAGE,
    FOREIGN_COUNTY,
    ITEMS,
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
    outbox,
    required,
    submission,
    supervisor,
    villager,
)


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    network = await Network.create(tmp_path, items=(*ITEMS, CITY_ITEM))
    yield network
    await network.close()


async def _hand_up(net: Network, principal: Principal, case_id: str) -> IntakeCase:
    """The service call itself, in its own transaction (for what must be refused)."""
    async with session_scope(net.intake) as session:
        return await intake_service.hand_up(session, principal, case_id)


async def _listed(net: Network, principal: Principal) -> set[str]:
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        page = await intake_service.list_cases(session, principal, status=None, after=None, limit=50)
        return {c.case_id for c in page.items}


async def _arrivals(net: Network, case_id: str) -> list[tuple[str, str]]:
    received = await outbox(net.intake, "case.received", case_id)
    return [(r.org_code, r.channel) for r in (CaseReceivedV1.model_validate(e.data) for e in received)]


async def _hand_ups(net: Network, case_id: str) -> list[tuple[str, str]]:
    handed = await outbox(net.intake, "case.handed_up", case_id)
    return [(h.org_code, h.to_org) for h in (CaseHandedUpV1.model_validate(e.data) for e in handed)]


async def test_one_time_notice_lists_every_missing_material_at_once(net: Network) -> None:
    # The villager brought only the application form; three required materials are missing.
    case_id = await net.collect(DIBAO, ["低保申请书"])
    await net.hand_up_from_village(case_id)
    receipt, notice = await net.accept(case_id, [])
    assert receipt is None and notice is not None
    # Every gap in one written list; the optional material is not demanded.
    assert sorted(notice.missing) == sorted(["居民身份证", "户口簿", "家庭收入情况声明"])
    assert "残疾证或病历" not in notice.missing
    assert notice.issued_by == f"clerk-{TOWN}" and notice.case_id == case_id
    shown = _notice(notice)
    assert shown.missing == notice.missing and shown.issued_at is not None
    case = await net.get("intake", IntakeCase, case_id)
    assert case.status == "incomplete" and case.accepted_at is None
    [event] = await outbox(net.intake, "case.notice_issued", case_id)
    assert sorted(event.data["missing"]) == sorted(notice.missing)
    # No receipt and no acceptance have been announced.
    assert await outbox(net.intake, "case.accepted") == []


async def test_supplement_never_gets_a_second_list(net: Network) -> None:
    case_id = await net.collect(DIBAO, ["低保申请书"])
    await net.hand_up_from_village(case_id)
    _, first = await net.accept(case_id, [])
    assert first is not None
    # A partial supplement: the applicant gets the same notice back, not a new list.
    receipt, again = await net.accept(case_id, ["居民身份证"])
    assert receipt is None and again is not None
    assert again.notice_id == first.notice_id
    assert sorted(again.missing) == sorted(first.missing)
    # Even a supplement of something never asked for produces no second list.
    _, third = await net.accept(case_id, ["残疾证或病历"])
    assert third is not None and third.notice_id == first.notice_id
    async with AsyncSession(net.intake) as session:
        assert len((await session.exec(select(OneTimeNotice))).all()) == 1
    assert len(await outbox(net.intake, "case.notice_issued", case_id)) == 1
    # The rest arrives: accepted, and the notice is closed.
    receipt, notice = await net.accept(case_id, ["户口簿", "家庭收入情况声明"])
    assert receipt is not None and notice is None
    assert (await net.get("intake", OneTimeNotice, first.notice_id)).resolved_at is not None
    assert (await net.get("intake", IntakeCase, case_id)).status == "accepted"


async def test_complete_materials_accepted_with_receipt(net: Network) -> None:
    case_id = await net.village_case_at_town(DIBAO)
    receipt, notice = await net.accept(case_id, [])
    assert notice is None and receipt is not None
    shown = _receipt(receipt)
    assert shown.case_id == case_id
    assert (shown.item_code, shown.item_name) == (DIBAO.item_code, DIBAO.name)
    assert shown.accepted_on == today_cn()
    assert shown.due > shown.accepted_on
    assert shown.officer == f"clerk-{TOWN}"
    assert shown.org_code == TOWN
    # The rating code is the applicant's: on their printed copy, never in the officer's answer.
    assert receipt.evaluation_code not in shown.model_dump_json()
    assert shown.print_url == f"/api/v1/intake/cases/{case_id}/receipt/print"
    async with AsyncSession(net.intake, expire_on_commit=False) as session:
        assert await intake_service.receipt_of(session, case_id) == receipt
    # The acceptance is announced with the receipt's facts; a second acceptance is refused.
    [event] = await outbox(net.intake, "case.accepted", case_id)
    accepted = CaseAcceptedV1.model_validate(event.data)
    assert (accepted.receipt_no, accepted.due, accepted.accepted_by) == (
        receipt.receipt_no,
        receipt.due,
        receipt.officer,
    )
    assert accepted.evaluation_code == receipt.evaluation_code
    with pytest.raises(Conflict) as again:
        async with session_scope(net.intake) as session:
            await intake_service.accept(session, clerk(TOWN), case_id, [], today_cn())
    assert again.value.slug == "case-not-pending"


async def test_promised_date_counts_working_days_from_the_day_after_acceptance(net: Network) -> None:
    # Accepted on Tuesday 2025-09-30, the eve of the National Day holidays (Oct 1-8, with Saturday
    # Oct 11 a make-up workday): 10 working days run to 2025-10-21, not 10 weekdays to 2025-10-14.
    accepted_on = date(2025, 9, 30)
    case_id = await net.walk_in(DIBAO, required(DIBAO), by=clerk(TOWN), today=accepted_on)
    receipt, _ = await net.accept(case_id, [], today=accepted_on)
    assert receipt is not None
    expected = add_working_days(receipt.accepted_on, DIBAO.promised_days)
    assert receipt.accepted_on == accepted_on
    assert expected.due == date(2025, 10, 21) and not expected.provisional
    assert (receipt.due, receipt.due_provisional) == (expected.due, expected.provisional)
    case = await net.get("intake", IntakeCase, case_id)
    assert case.due == expected.due


async def test_first_officer_is_responsible(net: Network) -> None:
    # A walk-in belongs to the officer at whose window it was received.
    walk_in = await net.walk_in(DIBAO, required(DIBAO), by=clerk(TOWN, "clerk-li"))
    assert (await net.get("intake", IntakeCase, walk_in)).first_officer == "clerk-li"
    await net.accept(walk_in, [], by=clerk(TOWN, "clerk-wang"))
    assert (await net.get("intake", IntakeCase, walk_in)).first_officer == "clerk-li"

    # A hand-up from a village belongs to the first officer who acts on it, not to a later one.
    case_id = await net.collect(DIBAO, ["低保申请书"])
    await net.hand_up_from_village(case_id)
    assert (await net.get("intake", IntakeCase, case_id)).first_officer is None
    # An officer of another hall is refused and does not become responsible.
    with pytest.raises(NotFound):
        async with session_scope(net.intake) as session:
            await intake_service.accept(session, clerk(OTHER_TOWN, "clerk-zhao"), case_id, [], today_cn())
    assert (await net.get("intake", IntakeCase, case_id)).first_officer is None
    await net.accept(case_id, [], by=clerk(TOWN, "clerk-zhang"))
    await net.accept(case_id, ["居民身份证", "户口簿", "家庭收入情况声明"], by=clerk(TOWN, "clerk-wang"))
    case = await net.get("intake", IntakeCase, case_id)
    assert case.status == "accepted"
    assert case.first_officer == "clerk-zhang"
    assert _read(case).first_officer == "clerk-zhang"


async def test_clerk_sees_unit_subtree_only(net: Network) -> None:
    at_town = await net.village_case_at_town(TEKUN, village=VILLAGE)
    at_neighbour = await net.village_case_at_town(DIBAO, village=NEIGHBOUR_VILLAGE)
    at_other_town = await net.village_case_at_town(DIBAO, village=FAR_VILLAGE)
    at_county = await net.walk_in(LICENCE, required(LICENCE), by=clerk(COUNTY))

    assert await _listed(net, clerk(TOWN)) == {at_town, at_neighbour}
    assert await _listed(net, clerk(OTHER_TOWN)) == {at_other_town}
    assert await _listed(net, clerk(COUNTY)) == {at_town, at_neighbour, at_other_town, at_county}
    assert await _listed(net, supervisor(COUNTY)) == await _listed(net, clerk(COUNTY))
    assert await _listed(net, agent(VILLAGE)) == {at_town}
    async with AsyncSession(net.intake) as session:
        with pytest.raises(NotFound):
            await intake_service.get_case(session, clerk(TOWN), at_other_town)
        with pytest.raises(NotFound):
            await intake_service.get_case(session, clerk(OTHER_TOWN), at_county)

    # Once the town hands a case up, the town still sees it (a past unit) but no longer acts on it.
    await net.accept(at_town, [])
    await net.hand_up_from_town(at_town)
    assert at_town in await _listed(net, clerk(TOWN))
    with pytest.raises(Conflict) as moved:
        await _hand_up(net, clerk(TOWN), at_town)
    assert moved.value.slug == "case-not-at-your-hall"


async def test_only_county_decided_items_go_up_to_the_county(net: Network) -> None:
    # 低保 is decided by the town: accepted there, it stays there.
    dibao = await net.village_case_at_town(DIBAO)
    # Not before acceptance, either.
    with pytest.raises(Conflict) as early:
        await _hand_up(net, clerk(TOWN), dibao)
    assert early.value.slug == "case-not-accepted"
    await net.accept(dibao, [])
    assert (await net.get("intake", IntakeCase, dibao)).deciding_org == TOWN
    with pytest.raises(Conflict) as stays:
        await _hand_up(net, clerk(TOWN), dibao)
    assert stays.value.slug == "decided-here"
    assert (await net.get("intake", IntakeCase, dibao)).current_org == TOWN

    # 特困供养 is decided by the county: it goes up, under the same number, to the town's own county.
    tekun = await net.village_case_at_town(TEKUN)
    await net.accept(tekun, [])
    assert (await net.get("intake", IntakeCase, tekun)).deciding_org == COUNTY
    moved = await net.hand_up_from_town(tekun)
    assert moved.current_org == COUNTY
    [up] = await outbox(net.intake, "case.handed_up", tekun)
    handed = CaseHandedUpV1.model_validate(up.data)
    assert (handed.org_code, handed.to_org, handed.origin_org) == (TOWN, COUNTY, VILLAGE)
    assert await _arrivals(net, tekun) == [(TOWN, "handoff"), (COUNTY, "handoff")]
    # The county's approval queue now holds it, at the county.
    approval_case = await net.get("approval", ApprovalCase, tekun)
    assert (approval_case.deciding_org, approval_case.current_org) == (COUNTY, COUNTY)


async def test_walk_in_mints_number_at_the_hall(net: Network) -> None:
    first = await net.walk_in(DIBAO, required(DIBAO), by=clerk(OTHER_TOWN))
    second = await net.walk_in(TEKUN, [], by=clerk(OTHER_TOWN), applicant=villager("555"))
    at_county = await net.walk_in(LICENCE, [], by=clerk(COUNTY))
    for case_id, hall, sequence in ((first, OTHER_TOWN, 1), (second, OTHER_TOWN, 2), (at_county, COUNTY, 1)):
        number = parse_case_number(case_id)
        assert (number.org_code, number.day, number.sequence) == (hall, today_cn(), sequence)
        case = await net.get("intake", IntakeCase, case_id)
        assert (case.origin_org, case.current_org, case.channel) == (hall, hall, "walk_in")
    [received] = await outbox(net.intake, "case.received", first)
    assert CaseReceivedV1.model_validate(received.data).channel == "walk_in"

    # Only a clerk of a hall receives at a window: not an agent, not a village.
    for principal in (agent(VILLAGE), clerk(VILLAGE)):
        with pytest.raises(Forbidden):
            async with session_scope(net.intake) as session:
                await intake_service.receive_walk_in(
                    session, principal, submission(DIBAO, required(DIBAO)), today_cn()
                )


# ------------------------------------------------------------------- hall by hall, up to the deciding level


async def test_town_hands_a_county_decided_case_up_to_its_county(net: Network) -> None:
    case_id = await net.village_case_at_town(TEKUN)
    await net.accept(case_id, [])
    moved = await net.hand_up_from_hall(case_id, by=clerk(TOWN))
    # The town's own county, never another county, and never further than the county.
    assert (moved.case_id, moved.current_org) == (case_id, COUNTY)
    assert await _hand_ups(net, case_id) == [(TOWN, COUNTY)]
    assert await _arrivals(net, case_id) == [(TOWN, "handoff"), (COUNTY, "handoff")]
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.current_org, case.deciding_org, case.status) == (COUNTY, COUNTY, "accepted")
    # The village agent follows it; the county approves it where it now is.
    assert (await net.get("agents", AgentCase, case_id)).current_org == COUNTY
    await net.decide(case_id, by=approver(COUNTY))
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.status, case.outcome) == ("decided", "approved")


async def test_county_hands_a_city_decided_case_up_to_its_city(net: Network) -> None:
    # A villager's city-decided matter: village → town → county → city, one hall at a time.
    case_id = await net.village_case_at_town(CITY_ITEM)
    receipt, _ = await net.accept(case_id, [])
    assert receipt is not None and receipt.org_code == TOWN
    accepted = CaseAcceptedV1.model_validate((await outbox(net.intake, "case.accepted", case_id))[0].data)
    assert accepted.deciding_org == CITY
    assert (await net.get("intake", IntakeCase, case_id)).deciding_org == CITY

    # The town hands it to its county (not straight to the city); the county hall receives it.
    first = await net.hand_up_from_hall(case_id, by=clerk(TOWN))
    assert first.current_org == COUNTY
    # The county is not where it is decided: it hands it up again, to its city, under the same number.
    second = await net.hand_up_from_hall(case_id, by=clerk(COUNTY))
    assert (second.case_id, second.current_org) == (case_id, CITY)
    assert await _hand_ups(net, case_id) == [(TOWN, COUNTY), (COUNTY, CITY)]
    assert await _arrivals(net, case_id) == [(TOWN, "handoff"), (COUNTY, "handoff"), (CITY, "handoff")]
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.current_org, case.origin_org, case.status) == (CITY, VILLAGE, "accepted")
    assert parse_case_number(case_id).org_code == VILLAGE

    # Every hall it passed through still sees it; the city sees it; another county does not.
    for principal in (clerk(TOWN), clerk(COUNTY), clerk(CITY), agent(VILLAGE)):
        assert case_id in await _listed(net, principal)
    assert case_id not in await _listed(net, clerk(FOREIGN_COUNTY))

    # Approval learned the deciding unit from case.accepted: the city decides, not the county.
    approval_case = await net.get("approval", ApprovalCase, case_id)
    assert (approval_case.deciding_org, approval_case.current_org) == (CITY, CITY)
    with pytest.raises(Forbidden):
        await net.decide(case_id, by=approver(COUNTY))
    await net.decide(case_id, by=approver(CITY))
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.status, case.outcome) == ("decided", "approved")
    assert (await net.get("agents", AgentCase, case_id)).current_org == CITY


async def test_county_hands_a_city_decided_walk_in_up_to_its_city(net: Network) -> None:
    case_id = await net.walk_in(CITY_ITEM, required(CITY_ITEM), by=clerk(COUNTY))
    await net.accept(case_id, [], by=clerk(COUNTY))
    assert (await net.get("intake", IntakeCase, case_id)).deciding_org == CITY
    moved = await net.hand_up_from_hall(case_id, by=clerk(COUNTY))
    assert moved.current_org == CITY
    assert await _hand_ups(net, case_id) == [(COUNTY, CITY)]
    assert await _arrivals(net, case_id) == [(COUNTY, "walk_in"), (CITY, "handoff")]


async def test_a_case_goes_no_higher_than_its_deciding_level(net: Network) -> None:
    # County-decided: once at the county it stays there.
    tekun = await net.village_case_at_town(TEKUN)
    await net.accept(tekun, [])
    await net.hand_up_from_hall(tekun, by=clerk(TOWN))
    with pytest.raises(Conflict) as at_county:
        await _hand_up(net, clerk(COUNTY), tekun)
    assert at_county.value.slug == "decided-here"
    assert (await net.get("intake", IntakeCase, tekun)).current_org == COUNTY

    # City-decided: once at the city it stays there.
    city_case = await net.village_case_at_town(CITY_ITEM)
    await net.accept(city_case, [])
    await net.hand_up_from_hall(city_case, by=clerk(TOWN))
    await net.hand_up_from_hall(city_case, by=clerk(COUNTY))
    with pytest.raises(Conflict) as at_city:
        await _hand_up(net, clerk(CITY), city_case)
    assert at_city.value.slug == "decided-here"
    assert (await net.get("intake", IntakeCase, city_case)).current_org == CITY

    # A town-decided item received at the county hall is decided there: it goes nowhere.
    at_county = await net.walk_in(DIBAO, required(DIBAO), by=clerk(COUNTY))
    await net.accept(at_county, [], by=clerk(COUNTY))
    assert (await net.get("intake", IntakeCase, at_county)).deciding_org == COUNTY
    with pytest.raises(Conflict) as decided_here:
        await _hand_up(net, clerk(COUNTY), at_county)
    assert decided_here.value.slug == "decided-here"
    # Only one hand-up was ever announced per hall a case left, and none past the deciding level.
    assert await _hand_ups(net, tekun) == [(TOWN, COUNTY)]
    assert await _hand_ups(net, city_case) == [(TOWN, COUNTY), (COUNTY, CITY)]
    assert await _hand_ups(net, at_county) == []


async def test_handing_up_a_case_no_longer_at_your_hall_is_409(net: Network) -> None:
    case_id = await net.village_case_at_town(CITY_ITEM)
    await net.accept(case_id, [])
    await net.hand_up_from_hall(case_id, by=clerk(TOWN))
    # The town handed it on: a second hand-up by the town is refused, and moves nothing.
    with pytest.raises(Conflict) as from_town:
        await _hand_up(net, clerk(TOWN), case_id)
    assert from_town.value.slug == "case-not-at-your-hall"
    assert (await net.get("intake", IntakeCase, case_id)).current_org == COUNTY
    await net.hand_up_from_hall(case_id, by=clerk(COUNTY))
    # Nor does the county hand it up twice (the old bug: the county answered 200 again and again).
    for principal in (clerk(COUNTY), clerk(TOWN)):
        with pytest.raises(Conflict) as again:
            await _hand_up(net, principal, case_id)
        assert again.value.slug == "case-not-at-your-hall"
    assert (await net.get("intake", IntakeCase, case_id)).current_org == CITY
    assert await _hand_ups(net, case_id) == [(TOWN, COUNTY), (COUNTY, CITY)]
    # A clerk of a county that never had the case does not learn it exists.
    with pytest.raises(NotFound):
        await _hand_up(net, clerk(FOREIGN_COUNTY), case_id)


async def test_a_city_clerk_works_a_window_like_town_and_county_clerks(net: Network) -> None:
    case_id = await net.walk_in(CITY_ITEM, ["医疗救助申请书"], by=clerk(CITY, "clerk-shi"))
    number = parse_case_number(case_id)
    assert (number.org_code, number.sequence) == (CITY, 1)
    case = await net.get("intake", IntakeCase, case_id)
    assert (case.origin_org, case.current_org, case.first_officer) == (CITY, CITY, "clerk-shi")
    # The same one-time notice, and the same receipt, as at any other hall.
    receipt, notice = await net.accept(case_id, [], by=clerk(CITY))
    assert receipt is None and notice is not None
    assert sorted(notice.missing) == sorted(["居民身份证", "医疗费用票据"])
    receipt, _ = await net.accept(case_id, ["居民身份证", "医疗费用票据"], by=clerk(CITY))
    assert receipt is not None and receipt.org_code == CITY
    assert (await net.get("intake", IntakeCase, case_id)).deciding_org == CITY
    with pytest.raises(Conflict) as stays:
        await _hand_up(net, clerk(CITY), case_id)
    assert stays.value.slug == "decided-here"
    # The city decides its own case at once: it never left the city.
    await net.decide(case_id, by=approver(CITY))
    assert (await net.get("intake", IntakeCase, case_id)).status == "decided"
