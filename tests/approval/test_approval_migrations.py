"""Approval's schema history: cases stored before ``CaseStatus`` keep their meaning."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.approval.models import ApprovalCase
from shared import migrations
from shared.case_status import CaseStatus
from shared.db import make_engine
from tests.case_fixtures import COUNTY, TOWN, VILLAGE, case_number
from tests.support import settings_for

_ROW = (
    "INSERT INTO approval_case (case_id, item_code, item_name, origin_org, deciding_org, current_org, "
    "applicant_name, status, accepted_at, promised_days, due, due_provisional, outcome) VALUES "
    "(:case_id, 'LY-MZ-002', '特困人员救助供养认定', :origin, :deciding, :deciding, '张三丰', :status, "
    "'2026-11-02 01:00:00', 15, '2026-11-20', false, :outcome)"
)


async def test_cases_waiting_as_pending_are_accepted_after_the_upgrade(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    waiting, decided = case_number(VILLAGE, 1), case_number(VILLAGE, 2)
    migrations.upgrade("approval", settings, revision="0001")
    engine = migrations.sync_engine("approval", settings)
    try:
        with engine.begin() as conn:
            for case_id, status, outcome in ((waiting, "pending", None), (decided, "decided", "approved")):
                conn.execute(
                    text(_ROW),
                    {
                        "case_id": case_id,
                        "origin": VILLAGE,
                        "deciding": COUNTY if case_id == waiting else TOWN,
                        "status": status,
                        "outcome": outcome,
                    },
                )
        migrations.upgrade("approval", settings)
        async_engine = make_engine("approval", settings)
        try:
            async with AsyncSession(async_engine) as session:
                rows = {c: await session.get(ApprovalCase, c) for c in (waiting, decided)}
        finally:
            await async_engine.dispose()
        assert {c: (r.status if r else None) for c, r in rows.items()} == {
            waiting: CaseStatus.accepted,
            decided: CaseStatus.decided,
        }
        # And back: the code before it finds its own word again.
        command.downgrade(migrations.alembic_config("approval", engine), "0001")
        with engine.connect() as conn:
            statuses = dict(conn.execute(text("SELECT case_id, status FROM approval_case")).all())
        assert statuses == {waiting: "pending", decided: "decided"}
    finally:
        engine.dispose()
