"""The county's directories per level: public reads, and the admin's draft → publish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.catalogue import audit, directories
from services.catalogue.models import DirectoryVersion
from services.catalogue.routes.deps import IfMatch
from services.catalogue.schemas import AuditPage, DirectoryLevel, DirectoryRead, DirectoryUpsert
from services.catalogue.service import require_admin_of
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses

router = APIRouter(prefix="/api/v1/catalogue/directories", tags=["catalogue"])

CountyCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The county that publishes it")]
LevelParam = Annotated[DirectoryLevel, Path(description="`town` or `village`")]
WRITE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)


def _with_etag(response: Response, directory: DirectoryVersion) -> DirectoryRead:
    response.headers["ETag"] = directories.etag(directory)
    return directories.read(directory)


@router.get(
    "/{county_code}/{level}",
    response_model=DirectoryRead,
    summary="The county's published directory for a level (public), with its ETag",
    responses=problem_responses(404, 422),
)
def get_published(
    county_code: CountyCode, level: LevelParam, session: SessionDep, response: Response
) -> DirectoryRead:
    return _with_etag(response, directories.published(session, county_code, level))


@router.get(
    "/{county_code}/{level}/draft",
    response_model=DirectoryRead,
    summary="The draft directory (admin), with its ETag",
    responses=problem_responses(401, 403, 404, 422),
)
def get_draft(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> DirectoryRead:
    require_admin_of(principal, county_code)
    return _with_etag(response, directories.draft(session, county_code, level))


@router.put(
    "/{county_code}/{level}/draft",
    response_model=DirectoryRead,
    summary="Write the draft directory: the level's entries and per-unit overrides (admin)",
    description="If-Match: the draft's ETag, or with no draft the published one's; none for the first.",
    responses=WRITE_ERRORS,
)
def put_draft(
    county_code: CountyCode,
    level: LevelParam,
    body: DirectoryUpsert,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> DirectoryRead:
    directory, created = directories.write_draft(
        session, principal, county_code=county_code, level=level, data=body, if_match=if_match
    )
    response.status_code = 201 if created else 200
    return _with_etag(response, directory)


@router.post(
    "/{county_code}/{level}/publish",
    response_model=DirectoryRead,
    summary="Publish the draft directory (admin); it supersedes the published one. If-Match: the draft's",
    responses=WRITE_ERRORS,
)
def publish(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> DirectoryRead:
    directory = directories.publish_draft(
        session, principal, county_code=county_code, level=level, if_match=if_match
    )
    return _with_etag(response, directory)


@router.get(
    "/{county_code}/{level}/audit",
    response_model=AuditPage,
    summary="Every change to the directory (admin)",
    responses=problem_responses(401, 403, 422),
)
def directory_audit(
    county_code: CountyCode,
    level: LevelParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditPage:
    require_admin_of(principal, county_code)
    rows = audit.trail(
        session, entity="directory", key=f"{county_code}-{level}", after=cursor, limit=limit + 1
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return AuditPage(items=[audit.read(r) for r in rows[:limit]], next_cursor=next_cursor)
