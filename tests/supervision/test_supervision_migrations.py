"""Supervision's schema history: views stored before ``CaseStatus`` read as replaying their events would."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from shared import migrations
from tests.case_fixtures import COUNTY, TEKUN, TOWN, VILLAGE, case_number
from tests.support import settings_for

_VIEW = (
    "INSERT INTO case_view (case_id, item_code, status, origin_org, current_org, orgs, received_at, "
    "due_provisional) VALUES (:case_id, :item_code, :status, :origin, :current, '[]', "
    "'2026-11-02 01:00:00', false)"
)
_ENTRY = (
    "INSERT INTO timeline_entry (case_id, event_id, type, service, org_code, at) VALUES "
    "(:case_id, :event_id, :type, :service, :org_code, '2026-11-02 01:00:00')"
)


async def test_views_of_cases_never_received_at_a_window_are_corrected(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    collected, handed_up, received, decided = (case_number(VILLAGE, n) for n in range(1, 5))
    stored = {  # what the code before CaseStatus stored, and the events it had seen
        collected: ("received", TOWN, ["case.collected"]),
        handed_up: ("received", TOWN, ["case.collected", "case.handed_up"]),
        received: ("received", TOWN, ["case.collected", "case.handed_up", "case.received"]),
        decided: ("decided", COUNTY, ["case.collected", "case.decided"]),
    }
    migrations.upgrade("supervision", settings, revision="0001")
    engine = migrations.sync_engine("supervision", settings)
    try:
        with engine.begin() as conn:
            for case_id, (status, current, types) in stored.items():
                conn.execute(
                    text(_VIEW),
                    {
                        "case_id": case_id,
                        "item_code": TEKUN.item_code,
                        "status": status,
                        "origin": VILLAGE,
                        "current": current,
                    },
                )
                for n, type_ in enumerate(types):
                    conn.execute(
                        text(_ENTRY),
                        {
                            "case_id": case_id,
                            "event_id": f"{case_id}-{n}",
                            "type": type_,
                            "service": "agents",
                            "org_code": VILLAGE,
                        },
                    )
        migrations.upgrade("supervision", settings)
        with engine.connect() as conn:
            statuses = dict(conn.execute(text("SELECT case_id, status FROM case_view")).all())
            entries = conn.execute(text("SELECT count(*) FROM timeline_entry")).scalar_one()
    finally:
        engine.dispose()
    assert statuses == {
        collected: "collected",
        handed_up: "handed_up",
        received: "received",
        decided: "decided",
    }
    assert entries == 8


async def test_ratings_stored_before_channels_say_who_posted_them(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    by_agent, by_applicant = case_number(VILLAGE, 1), case_number(VILLAGE, 2)
    migrations.upgrade("supervision", settings, revision="0003")
    engine = migrations.sync_engine("supervision", settings)
    try:
        with engine.begin() as conn:
            for case_id, rated_by in ((by_agent, "agent-wang"), (by_applicant, "applicant")):
                conn.execute(
                    text(
                        "INSERT INTO evaluation (case_id, rating, rated_by, org_code, created_at) "
                        "VALUES (:case_id, 5, :rated_by, :org_code, '2026-11-02 01:00:00')"
                    ),
                    {"case_id": case_id, "rated_by": rated_by, "org_code": COUNTY},
                )
        migrations.upgrade("supervision", settings)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT case_id, rated_by, channel, caller FROM evaluation")).all()
    finally:
        engine.dispose()
    assert sorted(tuple(r) for r in rows) == [
        (by_agent, "agent-wang", "agent", "agent-wang"),
        (by_applicant, "applicant", "receipt_code", "anonymous"),
    ]
