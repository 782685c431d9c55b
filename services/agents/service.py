"""Village proxy agents (全程代办): collect a villager's matter, hand it up, deliver the result."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from services.agents.models import AgentCase
from services.agents.schemas import AgentCaseStatus
from shared.auth import Principal, Role, require_roles
from shared.case_sequences import next_case_number
from shared.directory_copies import listed_at
from shared.divisions import Level, ancestor_at, level_of
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events import EventType, emit
from shared.events.outbox import utcnow
from shared.events.types import ApplicantData, CaseCollectedV1, CaseDeliveredV1, CaseHandedUpV1
from shared.item_copies import published_item
from shared.pagination import Page, keyset_page
from shared.schemas import CaseSubmission

SOURCE = "agents"


def _require_village_agent(principal: Principal) -> None:
    require_roles(principal, Role.agent)
    if level_of(principal.org_code) != Level.village:
        raise Forbidden("Only an agent of a village station collects cases", slug="not-a-village-agent")


def collect_case(
    session: Session, principal: Principal, submission: CaseSubmission, today: date
) -> AgentCase:
    """Record a villager's matter with its materials; mints the case number (办件编号) at the village."""
    _require_village_agent(principal)
    item = published_item(session, submission.item_code)
    if listed_at(session, principal.org_code, item.item_code) is False:
        raise InvalidInput(
            f"Item {item.item_code} ({item.name}) is not in this village's directory (村级目录未列入该事项)",
            slug="item-not-in-directory",
        )
    if not item.agent_may_take:
        raise InvalidInput(
            f"Item {item.item_code} ({item.name}) cannot be taken by a village agent",
            slug="item-not-for-agents",
        )
    case = AgentCase(
        case_id=next_case_number(session, principal.org_code, today),
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        village_code=principal.org_code,
        current_org=principal.org_code,
        status=AgentCaseStatus.collected,
        applicant_name=submission.applicant.name,
        applicant_id_number=submission.applicant.id_number,
        applicant_phone=submission.applicant.phone,
        materials=sorted({m.name for m in submission.materials}),
        collected_by=principal.username,
    )
    session.add(case)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_collected,
        subject=case.case_id,
        data=CaseCollectedV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            applicant=_applicant(case),
            materials=case.materials,
            collected_by=principal.username,
        ),
    )
    session.flush()
    return case


def _applicant(case: AgentCase) -> ApplicantData:
    return ApplicantData(
        name=case.applicant_name, id_number=case.applicant_id_number, phone=case.applicant_phone
    )


def get_case(session: Session, principal: Principal, case_id: str) -> AgentCase:
    """A case the caller may see: their village's, or below their unit. Others' are simply not found."""
    case = session.get(AgentCase, case_id)
    if case is None or not principal.governs(case.village_code):
        raise NotFound(f"No case {case_id} at your village", slug="case-not-found")
    return case


def _own_case(session: Session, principal: Principal, case_id: str) -> AgentCase:
    _require_village_agent(principal)
    return get_case(session, principal, case_id)


def list_cases(
    session: Session, principal: Principal, *, status: str | None, after: str | None, limit: int
) -> Page[AgentCase]:
    from shared.divisions import prefix_of

    query = select(AgentCase).where(col(AgentCase.village_code).startswith(prefix_of(principal.org_code)))
    if status:
        query = query.where(AgentCase.status == status)
    return keyset_page(session, query, AgentCase.case_id, after=after, limit=limit)


def hand_up(session: Session, principal: Principal, case_id: str) -> AgentCase:
    """Hand the case up to the village's town hall; the same case number goes up."""
    case = _own_case(session, principal, case_id)
    if case.status != AgentCaseStatus.collected:
        raise Conflict(
            f"Case {case_id} is {case.status}; only a collected case is handed up", slug="case-not-collected"
        )
    town = ancestor_at(case.village_code, Level.town)
    case.status, case.current_org, case.updated_at = AgentCaseStatus.handed_up, town, utcnow()
    session.add(case)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_handed_up,
        subject=case.case_id,
        data=CaseHandedUpV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            to_org=town,
            handed_by=principal.username,
            applicant=_applicant(case),
            materials=case.materials,
            origin_org=case.village_code,
        ),
    )
    session.flush()
    return case


def deliver(session: Session, principal: Principal, case_id: str, method: str) -> AgentCase:
    """Record that the decision reached the villager (送达)."""
    case = _own_case(session, principal, case_id)
    if case.status == AgentCaseStatus.delivered:
        raise Conflict(f"Case {case_id} was delivered already", slug="case-already-delivered")
    if case.status != AgentCaseStatus.decided:
        raise Conflict(f"Case {case_id} has no decision to deliver yet", slug="case-not-decided")
    case.status, case.delivered_at, case.delivered_by = (
        AgentCaseStatus.delivered,
        utcnow(),
        principal.username,
    )
    case.delivery_method, case.current_org, case.updated_at = method, case.village_code, utcnow()
    session.add(case)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_delivered,
        subject=case.case_id,
        data=CaseDeliveredV1(
            case_id=case.case_id,
            org_code=case.village_code,
            item_code=case.item_code,
            delivered_by=principal.username,
            method=method,
        ),
    )
    session.flush()
    return case
