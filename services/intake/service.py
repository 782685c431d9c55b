"""One-window acceptance (一窗受理): receive, check materials, accept with a receipt or list every gap
at once (一次性告知), and hand a case up to the county when the county decides it."""

from __future__ import annotations

import secrets
import uuid
from datetime import date

from sqlmodel import Session, col, select

from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from services.intake.schemas import IntakeStatus
from shared.auth import Principal, Role, require_roles
from shared.case_sequences import next_case_number
from shared.divisions import Level, ancestor_at, level_of, prefix_of
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import EventType, emit
from shared.events.outbox import utcnow
from shared.events.types import (
    ApplicantData,
    CaseAcceptedV1,
    CaseHandedUpV1,
    CaseNoticeIssuedV1,
    CaseReceivedV1,
)
from shared.item_copies import published_item
from shared.pagination import Page, keyset_page
from shared.schemas import CaseSubmission
from shared.workdays import add_working_days

SOURCE = "intake"
_LEVEL_ORDER = [Level.village, Level.town, Level.county, Level.city, Level.province]


def _require_hall_clerk(principal: Principal) -> None:
    require_roles(principal, Role.clerk)
    if level_of(principal.org_code) not in (Level.town, Level.county, Level.city):
        raise Forbidden("Only a clerk of a town or county hall works a window", slug="not-a-hall-clerk")


def _received(session: Session, case: IntakeCase) -> None:
    emit(
        session,
        source=SOURCE,
        type=EventType.case_received,
        subject=case.case_id,
        data=CaseReceivedV1(
            case_id=case.case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            channel=case.channel,
            origin_org=case.origin_org,
        ),
    )


def receive_walk_in(
    session: Session, principal: Principal, submission: CaseSubmission, today: date
) -> IntakeCase:
    """A citizen at the window: the case number is minted at this hall."""
    _require_hall_clerk(principal)
    item = published_item(session, submission.item_code)
    case = IntakeCase(
        case_id=next_case_number(session, principal.org_code, today),
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        required_materials=item.required_materials(),
        deciding_level=item.deciding_level,
        promised_days=item.promised_days,
        origin_org=principal.org_code,
        current_org=principal.org_code,
        channel="walk_in",
        status=IntakeStatus.received,
        applicant_name=submission.applicant.name,
        applicant_id_number=submission.applicant.id_number,
        applicant_phone=submission.applicant.phone,
        materials=sorted({m.name for m in submission.materials}),
        first_officer=principal.username,
    )
    session.add(case)
    _received(session, case)
    session.flush()
    return case


def receive_handoff(session: Session, payload: CaseHandedUpV1) -> IntakeCase | None:
    """A case handed up from a village station arrives at the town hall with its case number."""
    if session.get(IntakeCase, payload.case_id) is not None:
        return None
    # The agent took it while the item was live: a retirement since then does not strand the case.
    item = published_item(session, payload.item_code, allow_retired=True)
    case = IntakeCase(
        case_id=payload.case_id,
        item_code=item.item_code,
        item_name=item.name,
        item_version=item.version_no,
        required_materials=item.required_materials(),
        deciding_level=item.deciding_level,
        promised_days=item.promised_days,
        origin_org=payload.origin_org,
        current_org=payload.to_org,
        channel="handoff",
        status=IntakeStatus.received,
        applicant_name=payload.applicant.name,
        applicant_id_number=payload.applicant.id_number,
        applicant_phone=payload.applicant.phone,
        materials=sorted(set(payload.materials)),
    )
    session.add(case)
    _received(session, case)
    session.flush()
    return case


def get_case(session: Session, principal: Principal, case_id: str) -> IntakeCase:
    """A case the caller may see: it is or was at a unit of their subtree; otherwise not found."""
    case = session.get(IntakeCase, case_id)
    if case is None or not principal.governs_any([case.origin_org, case.current_org]):
        raise NotFound(f"No case {case_id} in your jurisdiction", slug="case-not-found")
    return case


def list_cases(
    session: Session, principal: Principal, *, status: str | None, after: str | None, limit: int
) -> Page[IntakeCase]:
    prefix = prefix_of(principal.org_code)
    query = select(IntakeCase).where(
        col(IntakeCase.current_org).startswith(prefix) | col(IntakeCase.origin_org).startswith(prefix)
    )
    if status:
        query = query.where(IntakeCase.status == status)
    return keyset_page(session, query, IntakeCase.case_id, after=after, limit=limit)


def _case_at_my_hall(session: Session, principal: Principal, case_id: str) -> IntakeCase:
    _require_hall_clerk(principal)
    case = get_case(session, principal, case_id)
    if case.current_org != principal.org_code:
        raise Conflict(
            f"Case {case_id} is at {case.current_org}, not at your hall", slug="case-not-at-your-hall"
        )
    if case.first_officer is None:
        case.first_officer = principal.username  # 首问负责: the first officer to act owns it
    return case


def open_notice(session: Session, case_id: str) -> OneTimeNotice | None:
    return session.exec(
        select(OneTimeNotice).where(
            OneTimeNotice.case_id == case_id, col(OneTimeNotice.resolved_at).is_(None)
        )
    ).first()


def accept(
    session: Session, principal: Principal, case_id: str, presented: list[str], today: date
) -> tuple[Receipt | None, OneTimeNotice | None]:
    """Check the materials: complete → accepted with a receipt; otherwise ONE notice listing every gap.

    A supplement that still leaves gaps gets the same notice back, never a second list.
    """
    case = _case_at_my_hall(session, principal, case_id)
    if case.status not in (IntakeStatus.received, IntakeStatus.incomplete):
        raise Conflict(
            f"Case {case_id} is {case.status}; it cannot be accepted again", slug="case-not-pending"
        )
    case.materials = sorted(set(case.materials) | set(presented))
    missing = [name for name in case.required_materials if name not in case.materials]
    notice = open_notice(session, case_id)
    if missing:
        if notice is None:
            notice = OneTimeNotice(
                notice_id=uuid.uuid4().hex[:16],
                case_id=case_id,
                missing=missing,
                issued_by=principal.username,
            )
            session.add(notice)
            emit(
                session,
                source=SOURCE,
                type=EventType.case_notice_issued,
                subject=case_id,
                data=CaseNoticeIssuedV1(
                    case_id=case_id,
                    org_code=case.current_org,
                    item_code=case.item_code,
                    notice_id=notice.notice_id,
                    missing=missing,
                    issued_by=principal.username,
                ),
            )
        case.status = IntakeStatus.incomplete
        session.add(case)
        session.flush()
        return None, notice
    if notice is not None:
        notice.resolved_at = utcnow()
        session.add(notice)
    return _accept_complete(session, principal, case, today), None


def _deciding_org(current_org: str, deciding_level: str) -> str:
    level = Level(deciding_level)
    here = level_of(current_org)
    if _LEVEL_ORDER.index(level) <= _LEVEL_ORDER.index(here):
        return current_org
    return ancestor_at(current_org, level)


def _accept_complete(session: Session, principal: Principal, case: IntakeCase, today: date) -> Receipt:
    # The promised date counts from the acceptance date printed on the receipt (the day after it is day 1).
    deciding_level, promised_days = case.deciding_level, case.promised_days
    now = utcnow()
    deadline = add_working_days(today, promised_days)
    case.status, case.accepted_at = IntakeStatus.accepted, now
    case.deciding_org = _deciding_org(case.current_org, deciding_level)
    case.due, case.due_provisional = deadline.due, deadline.provisional
    receipt = Receipt(
        receipt_no="R" + case.case_id.replace("-", ""),
        case_id=case.case_id,
        item_code=case.item_code,
        item_name=case.item_name,
        org_code=case.current_org,
        accepted_on=today,
        due=deadline.due,
        due_provisional=deadline.provisional,
        officer=principal.username,
        evaluation_code=secrets.token_hex(4).upper(),
    )
    session.add_all([case, receipt])
    emit(
        session,
        source=SOURCE,
        type=EventType.case_accepted,
        subject=case.case_id,
        data=CaseAcceptedV1(
            case_id=case.case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            receipt_no=receipt.receipt_no,
            accepted_by=principal.username,
            accepted_at=now,
            deciding_org=case.deciding_org,
            promised_days=promised_days,
            due=deadline.due,
            due_provisional=deadline.provisional,
            applicant_name=case.applicant_name,
            origin_org=case.origin_org,
            evaluation_code=receipt.evaluation_code,
        ),
    )
    session.flush()
    return receipt


def hand_up(session: Session, principal: Principal, case_id: str) -> IntakeCase:
    """Town → its county, for an item the county decides; the county hall receives the same case."""
    case = _case_at_my_hall(session, principal, case_id)
    if case.status != IntakeStatus.accepted:
        raise Conflict(
            f"Case {case_id} is {case.status}; accept it before handing it up", slug="case-not-accepted"
        )
    if case.deciding_org == case.current_org:
        raise Conflict(f"Case {case_id} is decided at this hall; it does not go up", slug="decided-here")
    county = ancestor_at(case.current_org, Level.county)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_handed_up,
        subject=case_id,
        data=CaseHandedUpV1(
            case_id=case_id,
            org_code=case.current_org,
            item_code=case.item_code,
            to_org=county,
            handed_by=principal.username,
            applicant=ApplicantData(
                name=case.applicant_name, id_number=case.applicant_id_number, phone=case.applicant_phone
            ),
            materials=case.materials,
            origin_org=case.origin_org,
        ),
    )
    case.current_org = county
    session.add(case)
    _received(session, case.model_copy(update={"channel": "handoff"}))
    session.flush()
    return case


def receipt_of(session: Session, case_id: str) -> Receipt | None:
    return session.exec(select(Receipt).where(Receipt.case_id == case_id)).first()
