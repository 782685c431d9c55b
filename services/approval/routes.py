"""Approval HTTP API: the deciding level's queue and its decisions."""

from __future__ import annotations

from fastapi import APIRouter

from services.approval import service
from services.approval.models import ApprovalCase
from services.approval.schemas import ApprovalCasePage, ApprovalCaseRead, DecisionIn
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.params import CaseIdParam, CaseListQuery

router = APIRouter(prefix="/api/v1/approval", tags=["approval"])


def _read(case: ApprovalCase) -> ApprovalCaseRead:
    return ApprovalCaseRead.model_validate(case, from_attributes=True)


@router.get(
    "/cases",
    response_model=ApprovalCasePage,
    summary="Cases decided within the caller's subtree",
    responses=problem_responses(401),
)
async def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    query: CaseListQuery,
) -> ApprovalCasePage:
    page = await service.list_cases(
        session, principal, status=query.status, after=query.cursor, limit=query.limit
    )
    return ApprovalCasePage(items=[_read(c) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/cases/{case_id}",
    response_model=ApprovalCaseRead,
    summary="One case awaiting or past decision",
    responses=problem_responses(401, 404, 422),
)
async def get_case(
    case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep
) -> ApprovalCaseRead:
    return _read(await service.get_case(session, principal, case_id))


@router.post(
    "/cases/{case_id}/decision",
    response_model=ApprovalCaseRead,
    summary="Approve or reject (with reasons), by an approver of the deciding level",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decide(
    case_id: CaseIdParam, body: DecisionIn, principal: CurrentPrincipal, session: SessionDep
) -> ApprovalCaseRead:
    return _read(await service.decide(session, principal, case_id, body))
