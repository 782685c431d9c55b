"""The public org directory (区划 + halls) and the admin's writes to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.catalogue import service
from services.catalogue.schemas import OrgPage, OrgRead, OrgUpsert
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

OrgCode = Annotated[str, Path(pattern=CODE_PATTERN, description="12-digit statistical division code")]


@router.get(
    "/orgs", response_model=OrgPage, summary="The org directory (public)", responses=problem_responses(422)
)
async def list_orgs(
    session: SessionDep,
    level: Annotated[str | None, Query(pattern="^(province|city|county|town|village)$")] = None,
    parent_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> OrgPage:
    page = await service.list_orgs(session, level=level, parent_code=parent_code, after=cursor, limit=limit)
    return OrgPage(
        items=[OrgRead.model_validate(o, from_attributes=True) for o in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/orgs/{code}", response_model=OrgRead, summary="One unit (public)", responses=problem_responses(404, 422)
)
async def get_org(code: OrgCode, session: SessionDep) -> OrgRead:
    return OrgRead.model_validate(await service.get_org(session, code), from_attributes=True)


@router.put(
    "/orgs/{code}",
    response_model=OrgRead,
    summary="Create or update a unit of the caller's own subtree (admin)",
    responses=problem_responses(401, 403, 422),
)
async def put_org(
    code: OrgCode, body: OrgUpsert, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> OrgRead:
    org, created = await service.put_org(session, principal, code=code, data=body)
    response.status_code = 201 if created else 200
    return OrgRead.model_validate(org, from_attributes=True)
