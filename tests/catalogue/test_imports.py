"""Spreadsheet import and export: the documented layout, all-or-nothing with a row-by-row report,
idempotent re-imports, export in the same layout, and jobs that survive a restart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from deploy.demo_catalogue.build import DEMO_FILE, TEMPLATE_FILE, demo_items
from services.catalogue import imports, service, spreadsheet
from services.catalogue.models import ImportJob, ImportStatus, Item, ItemVersion
from shared.auth import Principal
from shared.db import session_scope
from shared.errors import Forbidden, InvalidInput, NotFound
from tests.catalogue.conftest import ADMIN, CLERK, FOREIGN_ADMIN, TOWN_ADMIN, events, item, publish

HEADERS = [c.header for c in spreadsheet.COLUMNS]


def row(code: str | None, name: str | None = None, **cells: Any) -> dict[str, Any]:
    """One spreadsheet row by header; an item row gets valid defaults for the required columns."""
    values: dict[str, Any] = {"事项编码": code, "事项名称": name}
    if name is not None:
        values |= {"事项类型": "05 行政给付", "行使层级": "5", "审批层级": "镇", "办件类型": "承诺件"}
        values |= {"承诺时限": 5, "法定时限": 10, "村代办员可代办": "是"}
    return values | cells


def xlsx(rows: list[dict[str, Any]], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(headers)
    for values in rows:
        sheet.append([values.get(h) for h in headers])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def run_import(
    engine: AsyncEngine,
    data: bytes,
    filename: str = "目录.xlsx",
    publish: bool = True,
    by: Principal = ADMIN,
) -> ImportJob:
    async with session_scope(engine) as session:
        job = await imports.create_job(session, by, filename=filename, data=data, publish=publish)
        job_id = job.job_id
    await imports.run_job(engine, job_id)
    async with AsyncSession(engine) as session:
        found = await session.get(ImportJob, job_id)
        assert found is not None
        return found


GOOD = [
    row("MZ-1", "最低生活保障", 别名="低保", 材料名称="低保申请书", 是否必要="必要"),
    row(None, 材料名称="居民身份证", 是否必要="必要", 复印件份数=1),
    row(None, 材料名称="残疾证", 是否必要="非必要"),
    row("MZ-3", "临时救助", 材料名称="临时救助申请书"),
]


async def test_import_is_all_or_nothing_with_row_report(engine: AsyncEngine) -> None:
    rows = [
        *GOOD,  # rows 2–5 are fine
        row("MZ-4", "特困人员救助供养认定"),  # row 6
        row("MZ-5", "高龄津贴", 承诺时限="三天"),  # row 7
        row(None, 材料名称="申请表", 原件份数="一份"),  # row 8
        row("MZ-6", "残疾人证申领", 事项类型="99"),  # row 9
        row("MZ-7", "优待证", 是否收费="是"),  # row 10: no 收费标准
        row("MZ-1", "最低生活保障(重复)"),  # row 11
    ]
    job = await run_import(engine, xlsx(rows))
    assert job.status == ImportStatus.failed
    messages = [p["message"] for p in job.problems]
    assert messages[0].startswith("第7行: 承诺时限必须是整数个工作日")
    assert messages[1].startswith("第8行: 原件份数必须是整数")
    assert messages[2].startswith("第9行: 未知的事项类型 99")
    assert messages[3] == "第10行: 收费的事项必须填写收费标准"
    assert messages[4] == "第11行: 事项编码 MZ-1 与第2行重复"
    assert [p["row"] for p in job.problems] == [7, 8, 9, 10, 11]
    async with AsyncSession(engine) as session:  # nothing at all was imported: not even the good rows
        assert (await session.exec(select(Item))).all() == []
    assert await events(engine) == []


async def test_good_import_creates_every_item_with_its_material_rows(engine: AsyncEngine) -> None:
    job = await run_import(engine, xlsx(GOOD))
    assert job.status == ImportStatus.succeeded, job.problems
    assert job.summary == {"items": 2, "created": 2, "new_versions": 0, "unchanged": 0}
    assert job.rows_done == job.rows_total == 4
    async with AsyncSession(engine) as session:
        live = service.item_read(await service.current_version(session, "MZ-1"))
    assert live.aliases == ["低保"] and live.item_type == "05" and live.deciding_level == "town"
    assert [(m.name, m.required, m.copies) for m in live.materials] == [
        ("低保申请书", True, 0),
        ("居民身份证", True, 1),
        ("残疾证", False, 0),
    ]
    assert len(await events(engine, "item.published")) == 2


async def test_reimporting_the_same_file_changes_nothing(engine: AsyncEngine) -> None:
    await run_import(engine, xlsx(GOOD))
    again = await run_import(engine, xlsx(GOOD))
    assert again.summary == {"items": 2, "created": 0, "new_versions": 0, "unchanged": 2}
    changed = await run_import(
        engine, xlsx([*GOOD[:3], row("MZ-3", "临时救助", 承诺时限=3, 材料名称="临时救助申请书")])
    )
    assert changed.summary == {"items": 2, "created": 0, "new_versions": 1, "unchanged": 1}
    assert [e["subject"] for e in await events(engine, "item.published")] == ["MZ-1", "MZ-3", "MZ-3"]


async def test_import_as_drafts_leaves_the_live_versions_alone(engine: AsyncEngine) -> None:
    await run_import(engine, xlsx(GOOD))
    job = await run_import(engine, xlsx([row("MZ-3", "临时救助(新)")]), publish=False)
    assert job.summary["new_versions"] == 1
    async with AsyncSession(engine) as session:
        assert (await service.current_version(session, "MZ-3")).content["name"] == "临时救助"
        assert (await service.draft_of(session, "MZ-3")).content["name"] == "临时救助(新)"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"", "empty.xlsx", "文件是空的"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "不是有效的 .xlsx"),
        ("事项编码,名字\nA,B\n".encode(), "wrong.csv", "未知的列 “名字”"),
        ("事项编码,事项名称\n".encode(), "only-header.csv", "缺少必填的列"),
    ],
)
async def test_a_file_that_is_no_catalogue_is_refused_at_once(
    engine: AsyncEngine, data: bytes, filename: str, expected: str
) -> None:
    async with AsyncSession(engine) as session:
        with pytest.raises(InvalidInput, match=expected):
            await imports.create_job(session, ADMIN, filename=filename, data=data, publish=True)


def test_csv_in_gbk_and_merged_xlsx_cells_read_the_same(engine: AsyncEngine) -> None:
    items = demo_items()[:3]
    from_csv = spreadsheet.parse(
        spreadsheet.read_table(spreadsheet.write_csv(items).decode("utf-8-sig").encode("gb18030"), "csv")
    )
    from_xlsx = spreadsheet.parse(spreadsheet.read_table(spreadsheet.write_xlsx(items), "xlsx"))
    assert from_csv.problems == from_xlsx.problems == []
    assert (
        [(p.item_code, p.data) for p in from_csv.items]
        == [(p.item_code, p.data) for p in from_xlsx.items]
        == items
    )


async def test_export_is_the_import_layout(engine: AsyncEngine) -> None:
    await run_import(engine, DEMO_FILE.read_bytes())
    async with AsyncSession(engine) as session:
        exported = await imports.export_items(session)
    assert exported == sorted(demo_items(), key=lambda pair: pair[0])
    again = await run_import(engine, spreadsheet.write_xlsx(exported), filename="export.xlsx")
    assert again.summary["unchanged"] == len(exported)
    csv_again = await run_import(engine, spreadsheet.write_csv(exported), filename="export.csv")
    assert csv_again.summary["unchanged"] == len(exported)


def test_template_documents_every_column() -> None:
    workbook = load_workbook(TEMPLATE_FILE, read_only=True)
    assert [c.value for c in next(workbook[spreadsheet.SHEET].iter_rows(max_row=1))] == HEADERS
    documented = [r[0] for r in workbook[spreadsheet.GUIDE_SHEET].iter_rows(min_row=2, values_only=True)]
    assert set(HEADERS) <= set(documented)
    assert any("行政给付" in str(r) for r in workbook[spreadsheet.GUIDE_SHEET].iter_rows(values_only=True))


def test_demo_catalogue_is_a_spreadsheet_in_the_layout() -> None:
    parsed = spreadsheet.parse(spreadsheet.read_table(DEMO_FILE.read_bytes(), "xlsx"))
    assert parsed.problems == []
    tekun = next(p.data for p in parsed.items if "特困人员" in p.data.name)
    assert tekun.deciding_level == "county" and len([m for m in tekun.materials if m.required]) >= 2


async def test_a_job_cut_off_by_a_restart_is_failed_and_imported_nothing(engine: AsyncEngine) -> None:
    async with session_scope(engine) as session:
        job = await imports.create_job(session, ADMIN, filename="a.xlsx", data=xlsx(GOOD), publish=True)
        job_id = job.job_id
    assert await imports.fail_interrupted_jobs(engine) == 1
    await imports.run_job(engine, job_id)  # a late runner does not resurrect it
    async with AsyncSession(engine) as session:
        found = await session.get(ImportJob, job_id)
        assert (
            found is not None
            and found.status == ImportStatus.failed
            and "重新导入" in found.problems[0]["message"]
        )
        assert (await session.exec(select(ItemVersion))).all() == []


def test_progress_is_reported_while_rows_are_checked(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    rows = [row(f"X-{n}", f"事项{n}") for n in range(120)]
    spreadsheet.parse(
        spreadsheet.read_table(xlsx(rows), "xlsx"), lambda done, total: seen.append((done, total))
    )
    assert seen[0] == (0, 120) and seen[-1] == (120, 120) and len(seen) > 2


async def test_progress_is_stored_while_a_job_checks_its_rows(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored: list[tuple[int, int]] = []
    record = imports._record_progress

    async def spy(engine: AsyncEngine, job_id: str, done: int, total: int) -> None:
        await record(engine, job_id, done, total)
        async with AsyncSession(engine) as session:
            job = await session.get(ImportJob, job_id)
            assert job is not None and job.status == ImportStatus.running
            stored.append((job.rows_done, job.rows_total))

    monkeypatch.setattr(imports, "PROGRESS_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(imports, "_record_progress", spy)
    job = await run_import(engine, xlsx([row(f"X-{n}", f"事项{n}") for n in range(60)]))
    assert job.status == ImportStatus.succeeded and job.summary["created"] == 60
    assert stored[0] == (0, 60) and stored[-1] == (60, 60) and len(stored) > 2


async def test_an_import_cannot_change_items_of_a_unit_outside_the_importers(engine: AsyncEngine) -> None:
    await publish(engine, "MZ-1", item("最低生活保障"))  # the county's
    job = await run_import(engine, xlsx(GOOD), by=TOWN_ADMIN)
    assert job.status == ImportStatus.failed
    assert [(p["row"], p["column"]) for p in job.problems] == [(2, "事项编码")]
    assert "不在你的辖区" in job.problems[0]["message"]
    async with AsyncSession(engine) as session:
        assert (await service.current_version(session, "MZ-1")).content["name"] == "最低生活保障"
        assert await session.get(Item, "MZ-3") is None  # all or nothing: not even the town's own row


async def test_an_import_job_is_seen_only_by_an_admin_of_its_unit(engine: AsyncEngine) -> None:
    job = await run_import(engine, xlsx(GOOD), by=TOWN_ADMIN)
    async with AsyncSession(engine) as session:
        assert (await imports.get_job(session, TOWN_ADMIN, job.job_id)).job_id == job.job_id
        assert (await imports.get_job(session, ADMIN, job.job_id)).job_id == job.job_id  # the county above
        for outsider in (FOREIGN_ADMIN, Principal("admin-other", ("admin",), "371424202000")):
            with pytest.raises(NotFound):
                await imports.get_job(session, outsider, job.job_id)
        with pytest.raises(Forbidden):
            await imports.get_job(session, CLERK, job.job_id)
        with pytest.raises(Forbidden):
            await imports.create_job(session, CLERK, filename="a.xlsx", data=xlsx(GOOD), publish=True)
