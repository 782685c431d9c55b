"""Spreadsheet imports as jobs: accept the file, check every row, then write all of it or nothing.

The job lives in the database (file, progress, report), so a client polls it and a restart loses
nothing: a job a crash interrupted is marked failed, and since the writing is one transaction, a
failed job has imported nothing. The request that uploads the file only checks that it is a
spreadsheet in the layout (a 4xx at once otherwise); the rows are checked in the background, in a
worker thread (reading a workbook is CPU work that must not stall the event loop).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import service, spreadsheet
from services.catalogue.models import ImportJob, ImportStatus, Item, ItemVersion
from services.catalogue.schemas import ItemUpsert
from shared.auth import Principal, Role, require_roles
from shared.clock import utcnow
from shared.db import session_scope
from shared.errors import InvalidInput, WeiminError
from shared.jurisdiction import governed_or_404

log = logging.getLogger("weimin.catalogue.imports")

MAX_BYTES = 10 * 1024 * 1024
PROGRESS_EVERY_SECONDS = 0.25


class UnsupportedFile(WeiminError):
    status, slug, title = 415, "unsupported-file-type", "Unsupported file type"


def file_format(filename: str, data: bytes) -> str:
    """``xlsx`` or ``csv``, from the content first (an .xlsx is a zip), then the name."""
    name = filename.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise UnsupportedFile(f"只能导入 .xlsx 或 .csv 文件 ({filename or '未命名文件'})")


def _check_layout(data: bytes, fmt: str) -> None:
    """The file is a spreadsheet in the layout, with at least one row under the header."""
    try:
        head = spreadsheet.read_table(data, fmt, max_rows=2)
        spreadsheet.header_map(head[0])
    except spreadsheet.UnreadableFile as exc:
        raise InvalidInput(
            str(exc),
            slug="import-unreadable",
            problems=[
                {"row": 1 if "第1行" in p else None, "column": None, "message": p} for p in exc.problems
            ],
        ) from exc
    if len(head) < 2:
        raise InvalidInput("文件只有表头, 没有事项", slug="import-unreadable")


async def create_job(
    session: AsyncSession, principal: Principal, *, filename: str, data: bytes, publish: bool
) -> ImportJob:
    """Accept a file for import (a 4xx now if it is no spreadsheet in the layout); the job runs later.
    The items it writes belong to the admin's unit; items of units outside it fail the job."""
    service.require_admin_of(principal, principal.org_code)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"文件超过 {MAX_BYTES // 1024 // 1024} MB", slug="import-file-too-large")
    fmt = file_format(filename, data)
    await anyio.to_thread.run_sync(_check_layout, data, fmt)
    job = ImportJob(
        job_id=uuid.uuid4().hex,
        filename=filename[:255] or "upload",
        file_format=fmt,
        publish=publish,
        file=data,
        created_by=principal.username,
        owner_org=principal.org_code,
    )
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, principal: Principal, job_id: str) -> ImportJob:
    """An import job, for an admin governing the unit it imports into (to anyone else: unknown)."""
    require_roles(principal, Role.admin)
    job = await session.get(ImportJob, job_id)
    return governed_or_404(
        job,
        principal,
        job.owner_org if job else None,
        what=f"import job {job_id}",
        slug="import-job-not-found",
    )


async def _finish(engine: AsyncEngine, job_id: str, status: ImportStatus, **fields: Any) -> None:
    async with session_scope(engine) as session:
        job = await session.get(ImportJob, job_id)
        assert job is not None
        job.status, job.finished_at, job.file = status, utcnow(), b""  # the report stays, the file goes
        for key, value in fields.items():
            setattr(job, key, value)
        session.add(job)


async def _record_progress(engine: AsyncEngine, job_id: str, done: int, total: int) -> None:
    async with session_scope(engine) as session:
        row = await session.get(ImportJob, job_id)
        if row is not None:
            row.rows_done, row.rows_total = done, total
            session.add(row)


async def _foreign_items(
    session: AsyncSession, principal: Principal, parsed: list[spreadsheet.ParsedItem]
) -> list[dict]:
    """A problem for every row whose item exists and belongs to a unit outside the importer's."""
    codes = [p.item_code for p in parsed]
    rows = await session.exec(select(Item.item_code, Item.owner_org).where(col(Item.item_code).in_(codes)))
    owners = {code: owner for code, owner in rows.all()}
    return [
        spreadsheet.Problem(
            p.row, "事项编码", f"第{p.row}行: 事项 {p.item_code} 由 {owners[p.item_code]} 维护, 不在你的辖区"
        ).as_dict()
        for p in parsed
        if owners.get(p.item_code) and not principal.governs(owners[p.item_code])
    ]


async def _apply(
    session: AsyncSession, job: ImportJob, parsed: list[spreadsheet.ParsedItem]
) -> dict[str, int]:
    principal = Principal(job.created_by, ("admin",), job.owner_org)
    via = f"import {job.job_id}"
    counts = {"items": len(parsed), "created": 0, "new_versions": 0, "unchanged": 0}
    for item in parsed:
        existed = await session.get(Item, item.item_code) is not None
        if job.publish:
            _, changed = await service.publish_item(
                session,
                item_code=item.item_code,
                data=item.data,
                actor=principal.username,
                owner_org=principal.org_code,
                via=via,
            )
        else:
            changed = await service.import_draft(
                session, principal, item_code=item.item_code, data=item.data, via=via
            )
        key = "unchanged" if not changed else "new_versions" if existed else "created"
        counts[key] += 1
    return counts


async def run_job(engine: AsyncEngine, job_id: str) -> None:
    """Check every row, then write every item in one transaction, or nothing and the report."""
    async with session_scope(engine) as session:
        job = await session.get(ImportJob, job_id)
        if job is None or job.status != ImportStatus.queued:
            return
        job.status = ImportStatus.running
        session.add(job)
        data, fmt = job.file, job.file_format
    last = 0.0

    def progress(done: int, total: int) -> None:  # in the worker thread
        nonlocal last
        if time.monotonic() - last < PROGRESS_EVERY_SECONDS and done < total:
            return
        last = time.monotonic()
        anyio.from_thread.run(_record_progress, engine, job_id, done, total)

    def read_and_check() -> spreadsheet.ParseResult:
        return spreadsheet.parse(spreadsheet.read_table(data, fmt), progress)

    try:
        result = await anyio.to_thread.run_sync(read_and_check)
    except spreadsheet.UnreadableFile as exc:
        problems = [spreadsheet.Problem(None, None, p).as_dict() for p in exc.problems]
        await _finish(engine, job_id, ImportStatus.failed, problems=problems)
        return
    except Exception:
        log.exception("import %s could not be read", job_id)
        await _finish(engine, job_id, ImportStatus.failed, problems=[_internal_problem()])
        return
    if result.problems:
        await _finish(engine, job_id, ImportStatus.failed, problems=[p.as_dict() for p in result.problems])
        return
    try:
        async with session_scope(engine) as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None
            importer = Principal(job.created_by, ("admin",), job.owner_org)
            foreign = await _foreign_items(session, importer, result.items)
            if foreign:
                job.status, job.problems, job.finished_at = ImportStatus.failed, foreign, utcnow()
            else:
                job.summary = await _apply(session, job, result.items)
                job.status, job.finished_at = ImportStatus.succeeded, utcnow()
            job.rows_done = job.rows_total = result.rows_total
            job.file = b""
            session.add(job)
    except Exception:
        log.exception("import %s failed while writing; nothing was imported", job_id)
        await _finish(engine, job_id, ImportStatus.failed, problems=[_internal_problem()])


def _internal_problem() -> dict[str, Any]:
    return {"row": None, "column": None, "message": "导入时发生内部错误, 没有导入任何事项; 错误已记录"}


async def fail_interrupted_jobs(engine: AsyncEngine) -> int:
    """At start-up: a job still queued or running was cut off by a restart; it imported nothing."""
    async with session_scope(engine) as session:
        jobs = (
            await session.exec(
                select(ImportJob).where(
                    col(ImportJob.status).in_([ImportStatus.queued, ImportStatus.running])
                )
            )
        ).all()
        for job in jobs:
            job.status, job.finished_at, job.file = ImportStatus.failed, utcnow(), b""
            job.problems = [
                {"row": None, "column": None, "message": "服务重启, 导入被中断, 没有导入任何事项; 请重新导入"}
            ]
            session.add(job)
        return len(jobs)


async def export_items(session: AsyncSession, owner_org: str | None = None) -> list[tuple[str, ItemUpsert]]:
    """Every live item (of one owner, if given), in the spreadsheet's order (by code)."""
    query = service.live_versions()
    if owner_org:
        query = query.where(Item.owner_org == owner_org)
    live = (await session.exec(query.order_by(col(ItemVersion.item_code)))).all()
    return [(v.item_code, ItemUpsert.model_validate(v.content)) for v in live]
