"""Service items: the public catalogue and search, versions, and the admin's draft → publish → retire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response

from services.catalogue import audit, directories, service
from services.catalogue.codes import DecidingLevel, ItemType
from services.catalogue.models import ItemVersion
from services.catalogue.routes import cache
from services.catalogue.routes.deps import IfMatch, OptionalPrincipal, set_etag
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
from shared.auth import CurrentPrincipal
from shared.db import SessionDep, session_scope
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

ItemCode = Annotated[str, Path(pattern=ITEM_CODE_PATTERN, description="The county's item code")]
WRITE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)


def _with_etag(response: Response, version: ItemVersion) -> ItemRead:
    set_etag(response, service.etag(version))
    return service.item_read(version)


@router.get(
    "/items",
    response_model=ItemPage,
    summary="Items offered at a unit, or the whole catalogue; `q` searches names, aliases, keywords",
    description="By item code; with `q`, best match first (the cursor carries on within the ranking).",
    responses=problem_responses(404, 422),
)
async def list_items(
    session: SessionDep,
    org_code: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="The unit's effective list")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Chinese search, e.g. 低保")] = None,
    item_type: ItemType | None = None,
    deciding_level: DecidingLevel | None = None,
    agent_may_take: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ItemPage:
    page = await directories.offers_page(
        session,
        org_code=org_code,
        q=q,
        item_type=item_type,
        deciding_level=deciding_level,
        agent_may_take=agent_may_take,
        after=cursor,
        limit=limit,
    )
    items = [
        ItemAtUnit(
            **service.item_read(o.version).model_dump(),
            served=o.served,
            handled_by=o.handled_by,
            listed_by=o.listed_by,  # type: ignore[arg-type]
        )
        for o in page.items
    ]
    return ItemPage(items=items, next_cursor=page.next_cursor)


@router.get(
    "/items/{item_code}",
    response_model=ItemRead,
    summary="An item's live version (public), with its ETag",
    description="Send the ETag back in `If-None-Match`: while that version is still the published one "
    "the answer is 304 with no body.",
    responses={
        304: {"description": "Not modified: `If-None-Match` names the live version's ETag"},
        **problem_responses(404, 422),
    },
)
async def get_item(item_code: ItemCode, request: Request) -> Response:
    # From memory while the catalogue generation stands (routes/cache.py); If-None-Match may be a 304.
    return await cache.published_version(
        request,
        ("item", item_code),
        lambda session: service.current_version(session, item_code),
        conditional=True,
    )


@router.get(
    "/items/{item_code}/versions",
    response_model=VersionList,
    summary="An item's versions (public; an admin of the item's unit also sees the draft)",
    responses=problem_responses(404, 422),
)
async def list_versions(
    item_code: ItemCode, session: SessionDep, principal: OptionalPrincipal
) -> VersionList:
    versions = await service.visible_versions(session, principal, item_code)
    return VersionList(item_code=item_code, versions=versions)


@router.get(
    "/items/{item_code}/versions/{version_no}",
    response_model=ItemRead,
    summary="One version, e.g. the one a case was received under (drafts: an admin of its unit only)",
    responses=problem_responses(404, 422),
)
async def get_version(
    item_code: ItemCode,
    version_no: Annotated[int, Path(ge=1, le=1_000_000)],
    principal: OptionalPrincipal,
    request: Request,
    response: Response,
) -> Response | ItemRead:
    if principal is None:
        # Anyone's answer: a published or retired version, from memory (a draft is a 404 to them).
        return await cache.published_version(
            request,
            ("version", item_code, version_no),
            lambda session: service.visible_version(session, None, item_code, version_no),
            conditional=False,
        )
    # A caller with a token may be an admin who sees the draft: read as ever, never cached.
    async with session_scope(cache.reader(request)) as session:
        version = await service.visible_version(session, principal, item_code, version_no)
    return _with_etag(response, version)


@router.get(
    "/items/{item_code}/draft",
    response_model=ItemRead,
    summary="The item's draft (an admin of the item's unit), with its ETag",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_draft(
    item_code: ItemCode, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> ItemRead:
    return _with_etag(response, await service.read_draft(session, principal, item_code))


@router.put(
    "/items/{item_code}/draft",
    response_model=ItemRead,
    summary="Write the item's draft (admin); creates the item, or the next version beside the live one",
    description="If-Match: the draft's ETag, or with no draft the live version's; none for a new item.",
    responses=WRITE_ERRORS,
)
async def put_draft(
    item_code: ItemCode,
    body: ItemUpsert,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> ItemRead:
    draft, created = await service.write_draft(
        session, principal, item_code=item_code, data=body, based_on=if_match
    )
    response.status_code = 201 if created else 200
    return _with_etag(response, draft)


@router.post(
    "/items/{item_code}/publish",
    response_model=ItemRead,
    summary="Publish the draft (admin); it supersedes the live version. If-Match: the draft's ETag",
    responses=WRITE_ERRORS,
)
async def publish(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> ItemRead:
    version = await service.publish_draft(session, principal, item_code=item_code, based_on=if_match)
    return _with_etag(response, version)


@router.post(
    "/items/{item_code}/retire",
    response_model=ItemRead,
    summary="Retire the live version (admin); no unit offers it any more. If-Match: its ETag",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def retire(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
    body: Annotated[RetireIn | None, Body()] = None,
) -> ItemRead:
    version = await service.retire_item(
        session, principal, item_code=item_code, based_on=if_match, reason=body.reason if body else None
    )
    return _with_etag(response, version)


@router.get(
    "/items/{item_code}/audit",
    response_model=AuditPage,
    summary="Every change to the item: who, when, which field, old and new value (an admin of its unit)",
    responses=problem_responses(401, 403, 404, 422),
)
async def item_audit(
    item_code: ItemCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> AuditPage:
    page = await service.item_audit(session, principal, item_code, after=cursor, limit=limit)
    return AuditPage(items=[audit.read(r) for r in page.items], next_cursor=page.next_cursor)
