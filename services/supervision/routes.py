"""Supervision HTTP API: case timelines, ratings (好差评) and statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from services.supervision import service
from services.supervision.schemas import CaseTimeline, EvaluationIn, EvaluationRead, HistoryEntry, Stats
from shared.auth import CurrentPrincipal, bearer_token, decode_token
from shared.clock import today_cn
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import PROBLEM_JSON, PROBLEM_SCHEMA, problem, problem_responses
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


_TOO_MANY_WRONG_CODES: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many wrong evaluation codes for this case lately (5 within 15 minutes): "
        "every code for it waits until `Retry-After` seconds have passed",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }
}


@router.post(
    "/supervision/evaluations",
    status_code=201,
    response_model=EvaluationRead,
    summary="Rate a decided case once (一事一评): agent's token, or the receipt's evaluation_code",
    description="The village agent rates for the villager with their token; the applicant rates with "
    "no token and the code printed on their receipt. An officer's token is refused (403), with or "
    "without a code. A wrong code answers like an unknown case (404); after 5 wrong codes for one case "
    "within 15 minutes, 429 with `Retry-After`.",
    responses={**problem_responses(401, 403, 404, 409, 422), **_TOO_MANY_WRONG_CODES},
)
async def evaluate(
    body: EvaluationIn, request: Request, session: SessionDep
) -> EvaluationRead | JSONResponse:
    token = bearer_token(request)
    principal = decode_token(token, get_settings()) if token else None
    try:
        evaluation = await service.evaluate(session, principal, body)
    except service.TooManyWrongCodes as exc:
        reply = problem(exc.status, exc.title, exc.detail, exc.slug, request, **exc.extra)
        reply.headers["Retry-After"] = str(exc.retry_after)
        return reply
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
