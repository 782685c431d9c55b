"""Catalogue HTTP API: the public org directory and item catalogue (政务公开), and admin writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.catalogue import service
from services.catalogue.schemas import ItemPage, ItemRead, ItemUpsert, OrgPage, OrgRead, OrgUpsert
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
    org, created = service.upsert_org(session, code=code, data=body)
    response.status_code = 201 if created else 200
    return OrgRead.model_validate(org, from_attributes=True)


@router.get(
    "/catalogue/items",
    response_model=ItemPage,
    summary="Items offered at a unit (public)",
    responses=problem_responses(404, 422),
)
def list_items(
    session: SessionDep,
    org_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemPage:
    items = service.items_offered_at(session, org_code=org_code, after=cursor, limit=limit + 1)
    next_cursor = items[limit - 1].item_code if len(items) > limit else None
    return ItemPage(
        items=[ItemRead.model_validate(i, from_attributes=True) for i in items[:limit]],
        next_cursor=next_cursor,
    )


@router.get(
    "/catalogue/items/{item_code}",
    response_model=ItemRead,
    summary="One item (public)",
    responses=problem_responses(404),
)
def get_item(item_code: str, session: SessionDep) -> ItemRead:
    return ItemRead.model_validate(service.get_item(session, item_code), from_attributes=True)


@router.put(
    "/catalogue/items/{item_code}",
    response_model=ItemRead,
    summary="Publish an item (admin); a change publishes the next version",
    responses=problem_responses(401, 403, 422),
)
def put_item(item_code: str, body: ItemUpsert, principal: CurrentPrincipal, session: SessionDep) -> ItemRead:
    require_roles(principal, Role.admin)
    item, _ = service.publish_item(session, item_code=item_code, data=body)
    return ItemRead.model_validate(item, from_attributes=True)
