"""The public org directory (区划 + halls) and the admin's writes to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.catalogue import service
from services.catalogue.schemas import OrgPage, OrgRead, OrgUpsert
from shared.auth import CurrentPrincipal, Role, require_roles
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

OrgCode = Annotated[str, Path(pattern=CODE_PATTERN, description="12-digit statistical division code")]


@router.get(
    "/orgs", response_model=OrgPage, summary="The org directory (public)", responses=problem_responses(422)
)
def list_orgs(
    session: SessionDep,
    level: Annotated[str | None, Query(pattern="^(province|city|county|town|village)$")] = None,
    parent_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OrgPage:
    orgs = service.list_orgs(session, level=level, parent_code=parent_code, after=cursor, limit=limit + 1)
    next_cursor = orgs[limit - 1].code if len(orgs) > limit else None
    return OrgPage(
        items=[OrgRead.model_validate(o, from_attributes=True) for o in orgs[:limit]], next_cursor=next_cursor
    )


@router.get(
    "/orgs/{code}", response_model=OrgRead, summary="One unit (public)", responses=problem_responses(404, 422)
)
def get_org(code: OrgCode, session: SessionDep) -> OrgRead:
    return OrgRead.model_validate(service.get_org(session, code), from_attributes=True)


@router.put(
    "/orgs/{code}",
    response_model=OrgRead,
    summary="Create or update a unit (admin)",
    responses=problem_responses(401, 403, 422),
)
def put_org(
    code: OrgCode, body: OrgUpsert, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> OrgRead:
    require_roles(principal, Role.admin)
    org, created = service.upsert_org(session, code=code, data=body, actor=principal.username)
    response.status_code = 201 if created else 200
    return OrgRead.model_validate(org, from_attributes=True)
