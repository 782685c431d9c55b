"""The county's directories per level: public reads, and the admin's draft → publish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.catalogue import audit, directories
from services.catalogue.models import DirectoryVersion
from services.catalogue.routes.deps import IfMatch, set_etag
from services.catalogue.schemas import AuditPage, DirectoryLevel, DirectoryRead, DirectoryUpsert
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses
from shared.pagination import Cursor, Limit

router = APIRouter(prefix="/api/v1/catalogue/directories", tags=["catalogue"])

CountyCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The county that publishes it")]
LevelParam = Annotated[DirectoryLevel, Path(description="`town` or `village`")]
WRITE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)


def _with_etag(response: Response, directory: DirectoryVersion) -> DirectoryRead:
    set_etag(response, directories.etag(directory))
    return directories.read(directory)


@router.get(
    "/{county_code}/{level}",
    response_model=DirectoryRead,
    summary="The county's published directory for a level (public), with its ETag",
    responses=problem_responses(404, 422),
)
async def get_published(
    county_code: CountyCode, level: LevelParam, session: SessionDep, response: Response
) -> DirectoryRead:
    return _with_etag(response, await directories.published(session, county_code, level))


@router.get(
    "/{county_code}/{level}/draft",
    response_model=DirectoryRead,
    summary="The draft directory (an admin of the county), with its ETag",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_draft(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> DirectoryRead:
    directory = await directories.read_draft(session, principal, county_code=county_code, level=level)
    return _with_etag(response, directory)


@router.put(
    "/{county_code}/{level}/draft",
    response_model=DirectoryRead,
    summary="Write the draft directory: the level's entries and per-unit overrides (an admin of the county)",
    description="If-Match: the draft's ETag, or with no draft the published one's; none for the first.",
    responses=WRITE_ERRORS,
)
async def put_draft(
    county_code: CountyCode,
    level: LevelParam,
    body: DirectoryUpsert,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> DirectoryRead:
    directory, created = await directories.write_draft(
        session, principal, county_code=county_code, level=level, data=body, based_on=if_match
    )
    response.status_code = 201 if created else 200
    return _with_etag(response, directory)


@router.post(
    "/{county_code}/{level}/publish",
    response_model=DirectoryRead,
    summary="Publish the draft directory (an admin of the county); it supersedes the published one. "
    "If-Match: the draft's",
    responses=WRITE_ERRORS,
)
async def publish(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> DirectoryRead:
    directory = await directories.publish_draft(
        session, principal, county_code=county_code, level=level, based_on=if_match
    )
    return _with_etag(response, directory)


@router.get(
    "/{county_code}/{level}/audit",
    response_model=AuditPage,
    summary="Every change to the directory (an admin of the county)",
    responses=problem_responses(401, 403, 422),
)
async def directory_audit(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> AuditPage:
    page = await directories.audit_trail(
        session, principal, county_code=county_code, level=level, after=cursor, limit=limit
    )
    return AuditPage(items=[audit.read(r) for r in page.items], next_cursor=page.next_cursor)
