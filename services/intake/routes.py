"""Intake HTTP API: the windows of the town, county and city halls."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.intake import receipts, service
from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from services.intake.schemas import (
    AcceptIn,
    AcceptOutcome,
    IntakeCasePage,
    IntakeCaseRead,
    NoticeRead,
    ReceiptRead,
)
from shared.auth import CurrentPrincipal
from shared.clock import today_cn
from shared.db import SessionDep, WriteSessionDep
from shared.errors import problem_responses
from shared.idempotency import Idempotent
from shared.params import CaseIdParam, CaseListQuery
from shared.schemas import ApplicantMasked, CaseCreated, CaseSubmission, HandoffResult

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])


def _read(case: IntakeCase) -> IntakeCaseRead:
    return IntakeCaseRead(
        case_id=case.case_id,
        item_code=case.item_code,
        item_name=case.item_name,
        origin_org=case.origin_org,
        current_org=case.current_org,
        channel=case.channel,
        status=case.status,
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
    # Never the rating code (评价码): it is the applicant's, printed on their copy alone.
    return ReceiptRead(
        receipt_no=receipt.receipt_no,
        case_id=receipt.case_id,
        item_code=receipt.item_code,
        item_name=receipt.item_name,
        org_code=receipt.org_code,
        accepted_on=receipt.accepted_on,
        due=receipt.due,
        due_provisional=receipt.due_provisional,
        officer=receipt.officer,
        print_url=f"{router.prefix}/cases/{receipt.case_id}/receipt/print",
    )


def _notice(notice: OneTimeNotice) -> NoticeRead:
    return NoticeRead.model_validate(notice, from_attributes=True)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseCreated,
    summary="Receive a walk-in case at a window; mints the case number",
    responses=problem_responses(401, 403, 422),
)
async def receive_case(
    body: CaseSubmission, principal: CurrentPrincipal, session: SessionDep, idempotent: Idempotent
) -> CaseCreated:
    case = await service.receive_walk_in(session, principal, body, today_cn())
    result = CaseCreated(case_id=case.case_id, current_org=case.current_org, status=case.status)
    return idempotent.answer(result, status=201)


@router.get(
    "/cases",
    response_model=IntakeCasePage,
    summary="Cases at or through the caller's halls",
    responses=problem_responses(401),
)
async def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    query: CaseListQuery,
) -> IntakeCasePage:
    page = await service.list_cases(
        session, principal, status=query.status, after=query.cursor, limit=query.limit
    )
    return IntakeCasePage(items=[_read(c) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/cases/{case_id}",
    response_model=IntakeCaseRead,
    summary="One case at the windows",
    responses=problem_responses(401, 404, 422),
)
async def get_case(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> IntakeCaseRead:
    return _read(await service.get_case(session, principal, case_id))


@router.post(
    "/cases/{case_id}/accept",
    response_model=AcceptOutcome,
    summary="Accept with a receipt, or issue the one-time notice (一次性告知) of every gap",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def accept(
    case_id: CaseIdParam, body: AcceptIn, principal: CurrentPrincipal, session: SessionDep
) -> AcceptOutcome:
    receipt, notice = await service.accept(
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
async def get_receipt(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> ReceiptRead:
    return _receipt(await service.get_receipt(session, principal, case_id))


@router.get(
    "/cases/{case_id}/receipt/print",
    response_class=HTMLResponse,
    summary="The applicant's printed receipt (受理凭证), with their rating code (评价码)",
    description="A printable zh-CN page for the applicant, by a clerk of the hall that accepted the case. "
    "The rating code appears here alone, never in a JSON answer; each printing is recorded (who, "
    "where, when) and a reprint says so on the paper.",
    responses={
        200: {"content": {"text/html": {}}, "description": "The page to print"},
        **problem_responses(401, 403, 404, 422),
    },
)
async def print_receipt(
    case_id: CaseIdParam, principal: CurrentPrincipal, session: WriteSessionDep
) -> HTMLResponse:
    receipt, printed, copy_no = await service.print_receipt(session, principal, case_id)
    page = receipts.render_html(receipt, copy_no=copy_no, printed_at=printed.printed_at)
    # The code is a secret of the applicant's: no cache may keep the page.
    return HTMLResponse(page, headers={"Content-Language": "zh-CN", "Cache-Control": "no-store"})


@router.post(
    "/cases/{case_id}/handoff",
    response_model=HandoffResult,
    summary="Hand an accepted case up to the hall directly above (town → county → city)",
    description="Only while the item is decided higher up; the upper hall receives the same case "
    "number and hands it up again when the deciding level is higher still. A case decided at this "
    "hall, or no longer at it, is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def hand_up(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> HandoffResult:
    case = await service.hand_up(session, principal, case_id)
    return HandoffResult(case_id=case.case_id, current_org=case.current_org)
