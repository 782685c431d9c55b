"""Approval: the deciding level decides a case it learned of from intake's events."""

from __future__ import annotations

from sqlmodel import Session, col, select

from services.approval.models import ApprovalCase
from services.approval.schemas import ApprovalStatus, DecisionIn
from shared.auth import Principal, Role, require_roles
from shared.clock import today_cn
from shared.divisions import prefix_of
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import EventType, emit
from shared.events.outbox import utcnow
from shared.events.types import CaseAcceptedV1, CaseDecidedV1
from shared.item_copies import ItemCopy
from shared.pagination import Page, keyset_page

SOURCE = "approval"


def open_case(session: Session, accepted: CaseAcceptedV1) -> None:
    if session.get(ApprovalCase, accepted.case_id) is not None:
        return
    item = session.get(ItemCopy, accepted.item_code)
    session.add(
        ApprovalCase(
            case_id=accepted.case_id,
            item_code=accepted.item_code,
            item_name=item.name if item else accepted.item_code,
            origin_org=accepted.origin_org,
            deciding_org=accepted.deciding_org,
            current_org=accepted.org_code,
            applicant_name=accepted.applicant_name,
            status=ApprovalStatus.pending,
            accepted_at=accepted.accepted_at,
            promised_days=accepted.promised_days,
            due=accepted.due,
            due_provisional=accepted.due_provisional,
        )
    )


def case_arrived(session: Session, case_id: str, org_code: str) -> None:
    case = session.get(ApprovalCase, case_id)
    if case is not None and case.status == ApprovalStatus.pending:
        case.current_org = org_code
        session.add(case)


def get_case(session: Session, principal: Principal, case_id: str) -> ApprovalCase:
    case = session.get(ApprovalCase, case_id)
    if case is None or not principal.governs_any([case.origin_org, case.current_org, case.deciding_org]):
        raise NotFound(f"No case {case_id} in your jurisdiction", slug="case-not-found")
    return case


def list_cases(
    session: Session, principal: Principal, *, status: str | None, after: str | None, limit: int
) -> Page[ApprovalCase]:
    prefix = prefix_of(principal.org_code)
    query = select(ApprovalCase).where(col(ApprovalCase.deciding_org).startswith(prefix))
    if status:
        query = query.where(ApprovalCase.status == status)
    return keyset_page(session, query, ApprovalCase.case_id, after=after, limit=limit)


def decide(session: Session, principal: Principal, case_id: str, decision: DecisionIn) -> ApprovalCase:
    """Approve or refuse, by an approver of the deciding unit, once the case has reached it."""
    require_roles(principal, Role.approver)
    case = get_case(session, principal, case_id)
    if principal.org_code != case.deciding_org:
        raise Forbidden(f"Case {case_id} is decided by {case.deciding_org}", slug="not-the-deciding-unit")
    if case.status == ApprovalStatus.decided:
        raise Conflict(f"Case {case_id} was decided already", slug="case-already-decided")
    if case.current_org != case.deciding_org:
        raise Conflict(f"Case {case_id} has not reached {case.deciding_org} yet", slug="case-not-arrived")
    case.status, case.outcome, case.reason = ApprovalStatus.decided, decision.outcome.value, decision.reason
    case.decided_by, case.decided_at = principal.username, utcnow()
    case.on_time = today_cn() <= case.due
    session.add(case)
    emit(
        session,
        source=SOURCE,
        type=EventType.case_decided,
        subject=case_id,
        data=CaseDecidedV1(
            case_id=case_id,
            org_code=case.deciding_org,
            item_code=case.item_code,
            outcome=case.outcome,
            reason=case.reason,
            decided_by=principal.username,
            due=case.due,
            on_time=case.on_time,
        ),
    )
    session.flush()
    return case
