"""The catalogue's events reach the services that keep a local copy, which then work without it."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake.models import IntakeCase
from shared.events import OutboxEvent
from shared.identity_numbers import make_valid_id_number
from shared.item_copies import ItemCopy
from tests.catalogue.conftest import ADMIN, CLERK, bearer, eventually, in_app, service_app

BODY = {
    "name": "临时救助",
    "deciding_level": "town",
    "agent_may_take": True,
    "promised_days": 5,
    "legal_days": 10,
    "materials": [{"name": "临时救助申请书"}, {"name": "居民身份证"}],
}


async def _unsent(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        unsent = await session.exec(select(OutboxEvent).where(col(OutboxEvent.published_at).is_(None)))
        return len(unsent.all())


def test_item_events_consumed_while_catalogue_is_stopped(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = f"T-{uuid.uuid4().hex[:8]}"
    admin = bearer(ADMIN)
    # 1. The catalogue publishes v1, then v2 (more materials); its relay sends both to JetStream.
    with service_app("catalogue", tmp_path / "catalogue", nats_url, monkeypatch) as catalogue:
        draft = catalogue.put(f"/api/v1/catalogue/items/{code}/draft", json=BODY, headers=admin)
        v1 = catalogue.post(
            f"/api/v1/catalogue/items/{code}/publish", headers={**admin, "If-Match": draft.headers["etag"]}
        )
        edit = catalogue.put(
            f"/api/v1/catalogue/items/{code}/draft",
            json={**BODY, "materials": [*BODY["materials"], {"name": "家庭情况说明"}]},
            headers={**admin, "If-Match": v1.headers["etag"]},
        )
        v2 = catalogue.post(
            f"/api/v1/catalogue/items/{code}/publish", headers={**admin, "If-Match": edit.headers["etag"]}
        )
        assert v2.status_code == 200 and v2.json()["version_no"] == 2
        eventually(
            lambda: in_app(catalogue, _unsent) == 0, what="the relay to publish the catalogue's outbox"
        )
    # 2. The catalogue is stopped. Intake starts, consumes the stream, and keeps its own copy.
    with service_app("intake", tmp_path / "intake", nats_url, monkeypatch) as intake:

        async def copied(engine: AsyncEngine) -> ItemCopy | None:
            async with AsyncSession(engine) as session:
                found = await session.get(ItemCopy, code)
                return found if found is not None and found.version_no == 2 else None

        copy = eventually(lambda: in_app(intake, copied), what="intake's copy of the item's version 2")
        assert copy.required_materials() == ["临时救助申请书", "居民身份证", "家庭情况说明"]
        # 3. A walk-in case for the item is received while the catalogue is still down,
        #    under the version it was received under.
        applicant = {"name": "张三", "id_number": make_valid_id_number("371424", date(1958, 3, 14), "123")}
        reply = intake.post(
            "/api/v1/intake/cases",
            json={"item_code": code, "applicant": applicant, "materials": [{"name": "临时救助申请书"}]},
            headers=bearer(CLERK),
        )
        assert reply.status_code == 201, reply.text

        async def received(engine: AsyncEngine) -> IntakeCase | None:
            async with AsyncSession(engine) as session:
                return await session.get(IntakeCase, reply.json()["case_id"])

        case = in_app(intake, received)
        assert case is not None and case.item_code == code and case.item_version == 2
