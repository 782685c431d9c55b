"""Spreadsheet import (a job to poll), export in the same layout, and the blank template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from services.catalogue import imports, spreadsheet
from services.catalogue.models import ImportJob, ImportStatus
from services.catalogue.schemas import ImportJobRead
from shared.auth import CurrentPrincipal
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import PROBLEM_BASE, problem_responses

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "catalogue_template.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JobId = Annotated[
    str, PathParam(pattern=r"^[0-9a-f]{32}$", description="The job's id, as its Location gave it")
]


def _read(job: ImportJob) -> ImportJobRead:
    read = ImportJobRead.model_validate(job, from_attributes=True)
    if job.status == ImportStatus.failed:
        read.error = {
            "type": PROBLEM_BASE + "import-rejected",
            "title": "Import rejected",
            "status": 422,
            "detail": f"发现 {len(job.problems)} 个问题, 没有导入任何事项",
            "problems": job.problems,
        }
    return read


@router.post(
    "/imports",
    status_code=202,
    response_model=ImportJobRead,
    summary="Import a catalogue spreadsheet (.xlsx or .csv, admin): all or nothing; poll the job",
    description=(
        "The file is checked for its layout at once (a 4xx if it is no spreadsheet, is empty, or has "
        "unknown or missing headers); its rows are checked in the background. The job then reports every "
        "problem row by row and imports nothing, or imports every item. Items whose content equals their "
        "live version change nothing; changed ones get a new version, published at once unless "
        "`publish=false` leaves them as drafts."
    ),
    responses=problem_responses(400, 401, 403, 415, 422),
)
async def start_import(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    principal: CurrentPrincipal,
    session: SessionDep,
    file: Annotated[
        UploadFile,
        File(description=f"The spreadsheet, in the template's layout; at most {imports.MAX_BYTES} bytes"),
    ],
    publish: Annotated[bool, Form()] = True,
) -> ImportJobRead:
    data = await file.read(imports.MAX_BYTES + 1)
    job = await imports.create_job(
        session, principal, filename=file.filename or "", data=data, publish=publish
    )
    background.add_task(imports.run_job, request.app.state.engine, job.job_id)
    response.headers["Location"] = f"/api/v1/catalogue/imports/{job.job_id}"
    return _read(job)


@router.get(
    "/imports/{job_id}",
    response_model=ImportJobRead,
    summary="An import job: status, progress (rows_done of rows_total), and its row-by-row report",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_import(job_id: JobId, principal: CurrentPrincipal, session: SessionDep) -> ImportJobRead:
    return _read(await imports.get_job(session, principal, job_id))


@router.get(
    "/template.xlsx",
    response_class=FileResponse,
    summary="The blank spreadsheet template, with a sheet that documents every column (public)",
    responses={200: {"content": {XLSX: {}}}},
)
async def template() -> FileResponse:
    return FileResponse(TEMPLATE, media_type=XLSX, filename="事项目录导入模板.xlsx")


OwnerOrg = Annotated[
    str | None, Query(pattern=CODE_PATTERN, description="Only the items this unit maintains")
]


@router.get(
    "/export.xlsx",
    summary="Every live item in the import layout (public)",
    responses={200: {"content": {XLSX: {}}}, **problem_responses(422)},
)
async def export_xlsx(session: SessionDep, owner_org: OwnerOrg = None) -> Response:
    items = await imports.export_items(session, owner_org)
    body = await anyio.to_thread.run_sync(spreadsheet.write_xlsx, items)
    return Response(body, media_type=XLSX, headers={"Content-Disposition": _attachment("xlsx")})


@router.get(
    "/export.csv",
    summary="Every live item in the import layout, as UTF-8 CSV (public)",
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(422)},
)
async def export_csv(session: SessionDep, owner_org: OwnerOrg = None) -> Response:
    body = spreadsheet.write_csv(await imports.export_items(session, owner_org))
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": _attachment("csv")}
    )


def _attachment(extension: str) -> str:
    quoted = quote(f"事项目录.{extension}")
    return f"attachment; filename=catalogue.{extension}; filename*=UTF-8''{quoted}"
