"""Agents HTTP API: what a village proxy agent does from the thin mobile client."""

from __future__ import annotations

from fastapi import APIRouter

from services.agents import service
from services.agents.models import AgentCase
from services.agents.schemas import AgentCasePage, AgentCaseRead, DeliveryIn
from shared.auth import CurrentPrincipal
from shared.clock import today_cn
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.idempotency import Idempotent
from shared.params import CaseIdParam, CaseListQuery
from shared.schemas import ApplicantMasked, CaseCreated, CaseSubmission, HandoffResult

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


def _read(case: AgentCase) -> AgentCaseRead:
    return AgentCaseRead(
        case_id=case.case_id,
        item_code=case.item_code,
        item_name=case.item_name,
        village_code=case.village_code,
        current_org=case.current_org,
        status=case.status,
        applicant=ApplicantMasked.of(case.applicant_name, case.applicant_id_number, case.applicant_phone),
        materials=case.materials,
        collected_by=case.collected_by,
        collected_at=case.collected_at,
        outcome=case.outcome,
        delivered_at=case.delivered_at,
    )


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseCreated,
    summary="Collect a villager's matter (收件); mints the case number",
    responses=problem_responses(401, 403, 409, 422),
)
async def collect_case(
    body: CaseSubmission, principal: CurrentPrincipal, session: SessionDep, idempotent: Idempotent
) -> CaseCreated:
    case = await service.collect_case(session, principal, body, today_cn())
    result = CaseCreated(case_id=case.case_id, current_org=case.current_org, status=case.status)
    return idempotent.answer(result, status=201)


@router.get(
    "/cases",
    response_model=AgentCasePage,
    summary="Cases of the caller's village (or subtree)",
    responses=problem_responses(401),
)
async def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    query: CaseListQuery,
) -> AgentCasePage:
    page = await service.list_cases(
        session, principal, status=query.status, after=query.cursor, limit=query.limit
    )
    return AgentCasePage(items=[_read(c) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/cases/{case_id}",
    response_model=AgentCaseRead,
    summary="One collected case",
    responses=problem_responses(401, 404, 422),
)
async def get_case(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> AgentCaseRead:
    return _read(await service.get_case(session, principal, case_id))


@router.post(
    "/cases/{case_id}/handoff",
    response_model=HandoffResult,
    summary="Hand the case up to the village's town hall",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def hand_up(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> HandoffResult:
    case = await service.hand_up(session, principal, case_id)
    return HandoffResult(case_id=case.case_id, current_org=case.current_org)


@router.post(
    "/cases/{case_id}/deliver",
    response_model=AgentCaseRead,
    summary="Record delivery of the decision to the villager (送达)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def deliver(
    case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep, body: DeliveryIn | None = None
) -> AgentCaseRead:
    case = await service.deliver(session, principal, case_id, (body or DeliveryIn()).method)
    return _read(case)
