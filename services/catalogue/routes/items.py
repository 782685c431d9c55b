"""Service items: the public catalogue and search, versions, and the admin's draft → publish → retire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from services.catalogue import audit, directories, service
from services.catalogue.codes import DecidingLevel, ItemType
from services.catalogue.models import ItemVersion, VersionState
from services.catalogue.routes.deps import IfMatch, OptionalPrincipal
from services.catalogue.schemas import (
    ITEM_CODE_PATTERN,
    AuditPage,
    ItemAtUnit,
    ItemPage,
    ItemRead,
    ItemUpsert,
    RetireIn,
    VersionList,
)
from shared.auth import CurrentPrincipal, Role, require_roles
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import NotFound, problem_responses

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

ItemCode = Annotated[str, Path(pattern=ITEM_CODE_PATTERN, description="The county's item code")]
WRITE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)


def _with_etag(response: Response, version: ItemVersion) -> ItemRead:
    response.headers["ETag"] = service.etag(version)
    return service.item_read(version)


@router.get(
    "/items",
    response_model=ItemPage,
    summary="Items offered at a unit, or the whole catalogue; `q` searches names, aliases, keywords",
    responses=problem_responses(404, 422),
)
def list_items(
    session: SessionDep,
    org_code: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="The unit's effective list")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Chinese search, e.g. 低保")] = None,
    item_type: ItemType | None = None,
    deciding_level: DecidingLevel | None = None,
    agent_may_take: bool | None = None,
    cursor: Annotated[str | None, Query(description="The last item_code of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemPage:
    offers = directories.find_offers(
        session,
        org_code=org_code,
        q=q,
        item_type=item_type,
        deciding_level=deciding_level,
        agent_may_take=agent_may_take,
    )
    codes = [o.version.item_code for o in offers]
    if cursor is None:
        start = 0
    elif cursor in codes:
        start = codes.index(cursor) + 1
    else:  # the cursor's item left the list meanwhile: carry on after it in code order
        start = len(codes) if q else next((i for i, c in enumerate(codes) if c > cursor), len(codes))
    page = offers[start : start + limit]
    items = [
        ItemAtUnit(
            **service.item_read(o.version).model_dump(),
            served=o.served,
            handled_by=o.handled_by,
            listed_by=o.listed_by,  # type: ignore[arg-type]
        )
        for o in page
    ]
    more = start + limit < len(offers)
    return ItemPage(items=items, next_cursor=page[-1].version.item_code if more and page else None)


@router.get(
    "/items/{item_code}",
    response_model=ItemRead,
    summary="An item's live version (public), with its ETag",
    responses=problem_responses(404, 422),
)
def get_item(item_code: ItemCode, session: SessionDep, response: Response) -> ItemRead:
    return _with_etag(response, service.current_version(session, item_code))


@router.get(
    "/items/{item_code}/versions",
    response_model=VersionList,
    summary="An item's versions (public; an admin also sees the draft)",
    responses=problem_responses(404, 422),
)
def list_versions(item_code: ItemCode, session: SessionDep, principal: OptionalPrincipal) -> VersionList:
    admin = principal is not None and principal.has(Role.admin)
    return VersionList(
        item_code=item_code, versions=service.versions(session, item_code, include_drafts=admin)
    )


@router.get(
    "/items/{item_code}/versions/{version_no}",
    response_model=ItemRead,
    summary="One version, e.g. the one a case was received under (drafts: admin only)",
    responses=problem_responses(404, 422),
)
def get_version(
    item_code: ItemCode,
    version_no: Annotated[int, Path(ge=1)],
    session: SessionDep,
    principal: OptionalPrincipal,
    response: Response,
) -> ItemRead:
    version = service.get_version(session, item_code, version_no)
    if version.state == VersionState.draft and not (principal and principal.has(Role.admin)):
        raise NotFound(f"Item {item_code} has no version {version_no}", slug="item-version-not-found")
    return _with_etag(response, version)


@router.get(
    "/items/{item_code}/draft",
    response_model=ItemRead,
    summary="The item's draft (admin), with its ETag",
    responses=problem_responses(401, 403, 404, 422),
)
def get_draft(
    item_code: ItemCode, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> ItemRead:
    require_roles(principal, Role.admin)
    return _with_etag(response, service.draft_of(session, item_code))


@router.put(
    "/items/{item_code}/draft",
    response_model=ItemRead,
    summary="Write the item's draft (admin); creates the item, or the next version beside the live one",
    description="If-Match: the draft's ETag, or with no draft the live version's; none for a new item.",
    responses=WRITE_ERRORS,
)
def put_draft(
    item_code: ItemCode,
    body: ItemUpsert,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    draft, created = service.write_draft(
        session, principal, item_code=item_code, data=body, if_match=if_match
    )
    response.status_code = 201 if created else 200
    return _with_etag(response, draft)


@router.post(
    "/items/{item_code}/publish",
    response_model=ItemRead,
    summary="Publish the draft (admin); it supersedes the live version. If-Match: the draft's ETag",
    responses=WRITE_ERRORS,
)
def publish(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    return _with_etag(
        response, service.publish_draft(session, principal, item_code=item_code, if_match=if_match)
    )


@router.post(
    "/items/{item_code}/retire",
    response_model=ItemRead,
    summary="Retire the live version (admin); no unit offers it any more. If-Match: its ETag",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def retire(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    body: Annotated[RetireIn | None, Body()] = None,
    if_match: IfMatch = None,
) -> ItemRead:
    version = service.retire_item(
        session, principal, item_code=item_code, if_match=if_match, reason=body.reason if body else None
    )
    return _with_etag(response, version)


@router.get(
    "/items/{item_code}/audit",
    response_model=AuditPage,
    summary="Every change to the item: who, when, which field, old and new value (admin)",
    responses=problem_responses(401, 403, 404, 422),
)
def item_audit(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditPage:
    item = service.get_item(session, item_code)
    service.require_admin_of(principal, item.owner_org)
    rows = audit.trail(session, entity="item", key=item_code, after=cursor, limit=limit + 1)
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return AuditPage(items=[audit.read(r) for r in rows[:limit]], next_cursor=next_cursor)
