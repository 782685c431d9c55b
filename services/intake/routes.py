"""Intake HTTP API: the windows of the town and county halls."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.intake import service
from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from services.intake.schemas import (
    AcceptIn,
    AcceptOutcome,
    HandoffResult,
    IntakeCaseCreated,
    IntakeCasePage,
    IntakeCaseRead,
    IntakeStatus,
    NoticeRead,
    ReceiptRead,
)
from shared import idempotency
from shared.auth import CurrentPrincipal
from shared.clock import today_cn
from shared.db import SessionDep
from shared.errors import NotFound, problem_responses
from shared.pagination import Cursor, Limit
from shared.params import CaseIdParam
from shared.schemas import ApplicantMasked, CaseSubmission

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])


def _read(case: IntakeCase) -> IntakeCaseRead:
    return IntakeCaseRead(
        case_id=case.case_id,
        item_code=case.item_code,
        item_name=case.item_name,
        origin_org=case.origin_org,
        current_org=case.current_org,
        channel=case.channel,
        status=IntakeStatus(case.status),
        applicant=ApplicantMasked.of(case.applicant_name, case.applicant_id_number, case.applicant_phone),
        materials=case.materials,
        first_officer=case.first_officer,
        received_at=case.received_at,
        accepted_at=case.accepted_at,
        deciding_org=case.deciding_org,
        due=case.due,
        due_provisional=case.due_provisional,
    )


def _receipt(receipt: Receipt) -> ReceiptRead:
    return ReceiptRead.model_validate(receipt, from_attributes=True)


def _notice(notice: OneTimeNotice) -> NoticeRead:
    return NoticeRead.model_validate(notice, from_attributes=True)


@router.post(
    "/cases",
    status_code=201,
    response_model=IntakeCaseCreated,
    summary="Receive a walk-in case at a window; mints the case number",
    responses=problem_responses(401, 403, 422),
)
def receive_case(
    body: CaseSubmission,
    principal: CurrentPrincipal,
    session: SessionDep,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> IntakeCaseCreated | JSONResponse:
    endpoint = "POST /api/v1/intake/cases"
    replayed = idempotency.replay(session, idempotency_key, principal.username, endpoint)
    if replayed is not None:
        return replayed
    case = service.receive_walk_in(session, principal, body, today_cn())
    result = IntakeCaseCreated(
        case_id=case.case_id, current_org=case.current_org, status=IntakeStatus(case.status)
    )
    idempotency.remember(session, idempotency_key, principal.username, endpoint, 201, result.model_dump())
    return result


@router.get(
    "/cases",
    response_model=IntakeCasePage,
    summary="Cases at or through the caller's halls",
    responses=problem_responses(401),
)
def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    status: IntakeStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> IntakeCasePage:
    page = service.list_cases(session, principal, status=status, after=cursor, limit=limit)
    return IntakeCasePage(items=[_read(c) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/cases/{case_id}",
    response_model=IntakeCaseRead,
    summary="One case at the windows",
    responses=problem_responses(401, 404, 422),
)
def get_case(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> IntakeCaseRead:
    return _read(service.get_case(session, principal, case_id))


@router.post(
    "/cases/{case_id}/accept",
    response_model=AcceptOutcome,
    summary="Accept with a receipt, or issue the one-time notice (一次性告知) of every gap",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def accept(
    case_id: CaseIdParam, body: AcceptIn, principal: CurrentPrincipal, session: SessionDep
) -> AcceptOutcome:
    receipt, notice = service.accept(
        session, principal, case_id, [m.name for m in body.materials], today_cn()
    )
    if receipt is not None:
        return AcceptOutcome(outcome="accepted", receipt=_receipt(receipt))
    assert notice is not None
    return AcceptOutcome(outcome="incomplete", notice=_notice(notice))


@router.get(
    "/cases/{case_id}/receipt",
    response_model=ReceiptRead,
    summary="The case's receipt (受理凭证)",
    responses=problem_responses(401, 404, 422),
)
def get_receipt(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> ReceiptRead:
    service.get_case(session, principal, case_id)
    receipt = service.receipt_of(session, case_id)
    if receipt is None:
        raise NotFound(f"Case {case_id} has not been accepted", slug="receipt-not-found")
    return _receipt(receipt)


@router.post(
    "/cases/{case_id}/handoff",
    response_model=HandoffResult,
    summary="Hand an accepted case up to the county that decides it",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def hand_up(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> HandoffResult:
    case = service.hand_up(session, principal, case_id)
    return HandoffResult(case_id=case.case_id, current_org=case.current_org)
