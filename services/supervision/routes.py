"""Supervision HTTP API: case timelines, ratings (好差评) and statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.supervision import service
from services.supervision.schemas import CaseTimeline, EvaluationIn, EvaluationRead, HistoryEntry, Stats
from shared.auth import CurrentPrincipal, bearer_token, decode_token
from shared.clock import today_cn
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses
from shared.params import CaseIdParam
from shared.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["supervision"])


@router.get(
    "/cases/{case_id}",
    response_model=CaseTimeline,
    summary="One case's timeline across every level and service, oldest first",
    responses=problem_responses(401, 404, 422),
)
async def get_case(case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep) -> CaseTimeline:
    view, entries = await service.case_timeline(session, principal, case_id)
    return CaseTimeline(
        case_id=view.case_id,
        item_code=view.item_code,
        status=view.status,
        current_org=view.current_org,
        history=[HistoryEntry(type=e.type, service=e.service, org_code=e.org_code, at=e.at) for e in entries],
    )


@router.post(
    "/supervision/evaluations",
    status_code=201,
    response_model=EvaluationRead,
    summary="Rate a decided case once (一事一评): agent's token, or the receipt's evaluation_code",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def evaluate(body: EvaluationIn, request: Request, session: SessionDep) -> EvaluationRead:
    token = bearer_token(request)
    principal = decode_token(token, get_settings()) if token else None
    evaluation = await service.evaluate(session, principal, body)
    return EvaluationRead.model_validate(evaluation, from_attributes=True)


@router.get(
    "/supervision/stats",
    response_model=Stats,
    summary="Counts for a unit's subtree",
    responses=problem_responses(401, 403, 422),
)
async def stats(
    principal: CurrentPrincipal,
    session: SessionDep,
    org_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
) -> Stats:
    return await service.stats(session, principal, org_code or principal.org_code, today_cn())
