"""One-window acceptance (一窗受理) at the town and county halls: one-time notices, receipts, promised
dates in working days, 首问负责, jurisdiction, and hand-ups to the county."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from services.approval.models import ApprovalCase
from services.intake import service as intake_service
from services.intake.models import IntakeCase, OneTimeNotice
from services.intake.routes import _notice, _read, _receipt
from shared.case_numbers import parse_case_number
from shared.clock import today_cn
from shared.db import session_scope
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.types import CaseAcceptedV1, CaseHandedUpV1, CaseReceivedV1
from shared.workdays import add_working_days
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
    clerk,
    outbox,
    required,
    submission,
    supervisor,
    villager,
)


@pytest.fixture
def net(tmp_path: Path) -> Network:
    return Network.create(tmp_path)


def test_one_time_notice_lists_every_missing_material_at_once(net: Network) -> None:
    # The villager brought only the application form; three required materials are missing.
    case_id = net.collect(DIBAO, ["低保申请书"])
    net.hand_up_from_village(case_id)
    receipt, notice = net.accept(case_id, [])
    assert receipt is None and notice is not None
    # Every gap in one written list; the optional material is not demanded.
    assert sorted(notice.missing) == sorted(["居民身份证", "户口簿", "家庭收入情况声明"])
    assert "残疾证或病历" not in notice.missing
    assert notice.issued_by == f"clerk-{TOWN}" and notice.case_id == case_id
    shown = _notice(notice)
    assert shown.missing == notice.missing and shown.issued_at is not None
    case = net.get("intake", IntakeCase, case_id)
    assert case.status == "incomplete" and case.accepted_at is None
    [event] = outbox(net.intake, "case.notice_issued", case_id)
    assert sorted(event.data["missing"]) == sorted(notice.missing)
    # No receipt and no acceptance have been announced.
    assert outbox(net.intake, "case.accepted") == []


def test_supplement_never_gets_a_second_list(net: Network) -> None:
    case_id = net.collect(DIBAO, ["低保申请书"])
    net.hand_up_from_village(case_id)
    _, first = net.accept(case_id, [])
    assert first is not None
    # A partial supplement: the applicant gets the same notice back, not a new list.
    receipt, again = net.accept(case_id, ["居民身份证"])
    assert receipt is None and again is not None
    assert again.notice_id == first.notice_id
    assert sorted(again.missing) == sorted(first.missing)
    # Even a supplement of something never asked for produces no second list.
    _, third = net.accept(case_id, ["残疾证或病历"])
    assert third is not None and third.notice_id == first.notice_id
    with Session(net.intake) as session:
        assert len(session.exec(select(OneTimeNotice)).all()) == 1
    assert len(outbox(net.intake, "case.notice_issued", case_id)) == 1
    # The rest arrives: accepted, and the notice is closed.
    receipt, notice = net.accept(case_id, ["户口簿", "家庭收入情况声明"])
    assert receipt is not None and notice is None
    assert net.get("intake", OneTimeNotice, first.notice_id).resolved_at is not None
    assert net.get("intake", IntakeCase, case_id).status == "accepted"


def test_complete_materials_accepted_with_receipt(net: Network) -> None:
    case_id = net.village_case_at_town(DIBAO)
    receipt, notice = net.accept(case_id, [])
    assert notice is None and receipt is not None
    shown = _receipt(receipt)
    assert shown.case_id == case_id
    assert (shown.item_code, shown.item_name) == (DIBAO.item_code, DIBAO.name)
    assert shown.accepted_on == today_cn()
    assert shown.due > shown.accepted_on
    assert shown.officer == f"clerk-{TOWN}"
    assert shown.org_code == TOWN
    assert shown.evaluation_code
    with Session(net.intake) as session:
        assert intake_service.receipt_of(session, case_id) == receipt
    # The acceptance is announced with the receipt's facts; a second acceptance is refused.
    [event] = outbox(net.intake, "case.accepted", case_id)
    accepted = CaseAcceptedV1.model_validate(event.data)
    assert (accepted.receipt_no, accepted.due, accepted.accepted_by) == (
        receipt.receipt_no,
        receipt.due,
        receipt.officer,
    )
    assert accepted.evaluation_code == receipt.evaluation_code
    with pytest.raises(Conflict) as again, session_scope(net.intake) as session:
        intake_service.accept(session, clerk(TOWN), case_id, [], today_cn())
    assert again.value.slug == "case-not-pending"


def test_promised_date_counts_working_days_from_the_day_after_acceptance(net: Network) -> None:
    # Accepted on Tuesday 2025-09-30, the eve of the National Day holidays (Oct 1-8, with Saturday
    # Oct 11 a make-up workday): 10 working days run to 2025-10-21, not 10 weekdays to 2025-10-14.
    accepted_on = date(2025, 9, 30)
    case_id = net.walk_in(DIBAO, required(DIBAO), by=clerk(TOWN), today=accepted_on)
    receipt, _ = net.accept(case_id, [], today=accepted_on)
    assert receipt is not None
    expected = add_working_days(receipt.accepted_on, DIBAO.promised_days)
    assert receipt.accepted_on == accepted_on
    assert expected.due == date(2025, 10, 21) and not expected.provisional
    assert (receipt.due, receipt.due_provisional) == (expected.due, expected.provisional)
    case = net.get("intake", IntakeCase, case_id)
    assert case.due == expected.due


def test_first_officer_is_responsible(net: Network) -> None:
    # A walk-in belongs to the officer at whose window it was received.
    walk_in = net.walk_in(DIBAO, required(DIBAO), by=clerk(TOWN, "clerk-li"))
    assert net.get("intake", IntakeCase, walk_in).first_officer == "clerk-li"
    net.accept(walk_in, [], by=clerk(TOWN, "clerk-wang"))
    assert net.get("intake", IntakeCase, walk_in).first_officer == "clerk-li"

    # A hand-up from a village belongs to the first officer who acts on it, not to a later one.
    case_id = net.collect(DIBAO, ["低保申请书"])
    net.hand_up_from_village(case_id)
    assert net.get("intake", IntakeCase, case_id).first_officer is None
    # An officer of another hall is refused and does not become responsible.
    with pytest.raises(NotFound), session_scope(net.intake) as session:
        intake_service.accept(session, clerk(OTHER_TOWN, "clerk-zhao"), case_id, [], today_cn())
    assert net.get("intake", IntakeCase, case_id).first_officer is None
    net.accept(case_id, [], by=clerk(TOWN, "clerk-zhang"))
    net.accept(case_id, ["居民身份证", "户口簿", "家庭收入情况声明"], by=clerk(TOWN, "clerk-wang"))
    case = net.get("intake", IntakeCase, case_id)
    assert case.status == "accepted"
    assert case.first_officer == "clerk-zhang"
    assert _read(case).first_officer == "clerk-zhang"


def test_clerk_sees_unit_subtree_only(net: Network) -> None:
    at_town = net.village_case_at_town(TEKUN, village=VILLAGE)
    at_neighbour = net.village_case_at_town(DIBAO, village=NEIGHBOUR_VILLAGE)
    at_other_town = net.village_case_at_town(DIBAO, village=FAR_VILLAGE)
    at_county = net.walk_in(LICENCE, required(LICENCE), by=clerk(COUNTY))

    def listed(principal):  # type: ignore[no-untyped-def]
        with Session(net.intake) as session:
            cases = intake_service.list_cases(session, principal, status=None, after=None, limit=50).items
            return {c.case_id for c in cases}

    assert listed(clerk(TOWN)) == {at_town, at_neighbour}
    assert listed(clerk(OTHER_TOWN)) == {at_other_town}
    assert listed(clerk(COUNTY)) == {at_town, at_neighbour, at_other_town, at_county}
    assert listed(supervisor(COUNTY)) == listed(clerk(COUNTY))
    assert listed(agent(VILLAGE)) == {at_town}
    with Session(net.intake) as session:
        with pytest.raises(NotFound):
            intake_service.get_case(session, clerk(TOWN), at_other_town)
        with pytest.raises(NotFound):
            intake_service.get_case(session, clerk(OTHER_TOWN), at_county)

    # Once the town hands a case up, the town still sees it (a past unit) but no longer acts on it.
    net.accept(at_town, [])
    net.hand_up_from_town(at_town)
    assert at_town in listed(clerk(TOWN))
    with pytest.raises(Conflict) as moved, session_scope(net.intake) as session:
        intake_service.hand_up(session, clerk(TOWN), at_town)
    assert moved.value.slug == "case-not-at-your-hall"


def test_only_county_decided_items_go_up_to_the_county(net: Network) -> None:
    # 低保 is decided by the town: accepted there, it stays there.
    dibao = net.village_case_at_town(DIBAO)
    # Not before acceptance, either.
    with pytest.raises(Conflict) as early, session_scope(net.intake) as session:
        intake_service.hand_up(session, clerk(TOWN), dibao)
    assert early.value.slug == "case-not-accepted"
    net.accept(dibao, [])
    assert net.get("intake", IntakeCase, dibao).deciding_org == TOWN
    with pytest.raises(Conflict) as stays, session_scope(net.intake) as session:
        intake_service.hand_up(session, clerk(TOWN), dibao)
    assert stays.value.slug == "decided-here"
    assert net.get("intake", IntakeCase, dibao).current_org == TOWN

    # 特困供养 is decided by the county: it goes up, under the same number, to the town's own county.
    tekun = net.village_case_at_town(TEKUN)
    net.accept(tekun, [])
    assert net.get("intake", IntakeCase, tekun).deciding_org == COUNTY
    moved = net.hand_up_from_town(tekun)
    assert moved.current_org == COUNTY
    [up] = outbox(net.intake, "case.handed_up", tekun)
    handed = CaseHandedUpV1.model_validate(up.data)
    assert (handed.org_code, handed.to_org, handed.origin_org) == (TOWN, COUNTY, VILLAGE)
    arrivals = [CaseReceivedV1.model_validate(e.data) for e in outbox(net.intake, "case.received", tekun)]
    assert [(r.org_code, r.channel) for r in arrivals] == [(TOWN, "handoff"), (COUNTY, "handoff")]
    # The county's approval queue now holds it, at the county.
    approval_case = net.get("approval", ApprovalCase, tekun)
    assert (approval_case.deciding_org, approval_case.current_org) == (COUNTY, COUNTY)


def test_walk_in_mints_number_at_the_hall(net: Network) -> None:
    first = net.walk_in(DIBAO, required(DIBAO), by=clerk(OTHER_TOWN))
    second = net.walk_in(TEKUN, [], by=clerk(OTHER_TOWN), applicant=villager("555"))
    at_county = net.walk_in(LICENCE, [], by=clerk(COUNTY))
    for case_id, hall, sequence in ((first, OTHER_TOWN, 1), (second, OTHER_TOWN, 2), (at_county, COUNTY, 1)):
        number = parse_case_number(case_id)
        assert (number.org_code, number.day, number.sequence) == (hall, today_cn(), sequence)
        case = net.get("intake", IntakeCase, case_id)
        assert (case.origin_org, case.current_org, case.channel) == (hall, hall, "walk_in")
    [received] = outbox(net.intake, "case.received", first)
    assert CaseReceivedV1.model_validate(received.data).channel == "walk_in"

    # Only a clerk of a hall receives at a window: not an agent, not a village.
    for principal in (agent(VILLAGE), clerk(VILLAGE)):
        with pytest.raises(Forbidden), session_scope(net.intake) as session:
            intake_service.receive_walk_in(session, principal, submission(DIBAO, required(DIBAO)), today_cn())
