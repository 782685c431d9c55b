"""Approval HTTP API: the deciding level's queue and its decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

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


def _with_etag(response: Response, case: ApprovalCase) -> ApprovalCaseRead:
    response.headers["ETag"] = service.etag(case)
    return _read(case)


def _based_on(if_match: str | None) -> frozenset[str] | None:
    """``If-Match`` (RFC 9110: a list of entity tags, or ``*``) as the tags a write is based on;
    ``None`` when it asks nothing (absent, or ``*``: the case exists)."""
    if not if_match or not if_match.strip():
        return None
    tags = frozenset(tag.strip() for tag in if_match.split(",") if tag.strip())
    return None if "*" in tags else tags


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="Optional: the case's ETag as you read it; if the case changed since, the decision "
        "is refused with 412 `stale-etag` instead of deciding a case you have not seen",
    ),
]


@router.get(
    "/cases/{case_id}",
    response_model=ApprovalCaseRead,
    summary="One case awaiting or past decision, with its ETag",
    responses=problem_responses(401, 404, 422),
)
async def get_case(
    case_id: CaseIdParam, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ApprovalCaseRead:
    return _with_etag(response, await service.get_case(session, principal, case_id))


@router.post(
    "/cases/{case_id}/decision",
    response_model=ApprovalCaseRead,
    summary="Approve or reject (with reasons), by an approver of the deciding level",
    description="A case is decided once: of two decisions at once, one is stored and the other is a "
    "409. `If-Match` is honoured when sent (a stale ETag is a 412 `stale-etag`); the answer carries "
    "the decided case's new ETag.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def decide(
    case_id: CaseIdParam,
    body: DecisionIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ApprovalCaseRead:
    case = await service.decide(session, principal, case_id, body, based_on=_based_on(if_match))
    return _with_etag(response, case)
