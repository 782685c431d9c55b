"""Bad input stops at the catalogue's boundary (a 422 problem: nothing stored, nothing announced), and
what the bounds let through always fits in one NATS message: the largest item and the largest
directory an admin may write are published as events the bus can carry."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import events as catalogue_events
from services.catalogue.models import DirectoryVersion, ItemVersion
from services.catalogue.schemas import (
    MAX_CODES,
    MAX_ENTRIES,
    MAX_OVERRIDES,
    MAX_TERMS,
    DirectoryUpsert,
    ItemUpsert,
)
from shared.clock import utcnow
from shared.events import OutboxEvent
from shared.events.nats_link import DEFAULT_MAX_PAYLOAD
from shared.events.relay import HEADER_ALLOWANCE
from shared.schemas import MAX_MATERIALS
from tests.catalogue.conftest import ADMIN, COUNTY, TOWN, VILLAGE, assert_problem, bearer, events, in_app

INVALID = "urn:weimin:problem:invalid-input"
ADMIN_H = bearer(ADMIN)
BODY: dict[str, Any] = {
    "name": "临时救助",
    "deciding_level": "town",
    "promised_days": 5,
    "legal_days": 10,
    "materials": [{"name": "临时救助申请书"}],
}
MESSAGE_LIMIT = DEFAULT_MAX_PAYLOAD - HEADER_ALLOWANCE
WIDE = "国"  # three bytes in UTF-8: the widest text an admin types


def test_six_thousand_materials_are_refused(client: TestClient) -> None:
    draft = "/api/v1/catalogue/items/MZ-BIG/draft"
    for changes in (
        {"materials": [{"name": f"材料{n}"} for n in range(6003)]},
        {"aliases": [f"别名{n}" for n in range(MAX_TERMS + 1)]},
        {"keywords": ["救" * 101]},
        {"co_departments": ["民政局\u0000"]},
        {"legal_basis": "法" * 5001},
        {"implementing_body": "临邑县\u202e民政局"},
        {"materials": [{"name": "申请书", "notes": "注" * 1001}]},
        {"consultation_phone": "1" * 101},
        {"service_objects": ["1"] * (MAX_CODES + 1)},
    ):
        assert_problem(client.put(draft, json=BODY | changes, headers=ADMIN_H), 422, INVALID)
    assert_problem(client.get(draft, headers=ADMIN_H), 404)
    assert in_app(client, lambda engine: events(engine)) == []
    assert client.put(draft, json=BODY, headers=ADMIN_H).status_code == 201


def test_an_org_with_oversized_or_invisible_text_is_a_422(client: TestClient) -> None:
    path = f"/api/v1/orgs/{VILLAGE}"
    before = client.get(path).json()
    for body in (
        {"name": "示例东村", "phone": "1" * 1_000},
        {"name": "示例东村", "address": "址" * 201},
        {"name": "示例\u0007东村"},
        {"name": "村" * 101},
    ):
        assert_problem(client.put(path, json=body, headers=ADMIN_H), 422, INVALID)
    assert client.get(path).json() == before


def test_a_directory_with_too_many_overrides_is_refused(client: TestClient) -> None:
    draft = f"/api/v1/catalogue/directories/{COUNTY}/village/draft"
    overrides = [
        {"org_code": f"371424100{n:03d}", "item_code": f"MZ-{n}", "action": "add"}
        for n in range(MAX_OVERRIDES + 1)
    ]
    for body in (
        {"title": "村级目录", "overrides": overrides},
        {"title": "村级目录", "entries": [{"item_code": f"MZ-{n}"} for n in range(MAX_ENTRIES + 1)]},
        {"title": "村级目录\u200b\u200b" * 100},
    ):
        assert_problem(client.put(draft, json=body, headers=ADMIN_H), 422, INVALID)
    assert_problem(client.get(draft, headers=ADMIN_H), 404)


# ---------------------------------------------------------------------- the largest fits on the bus


def _largest_item() -> ItemUpsert:
    def text(n: int) -> str:
        return WIDE * n

    return ItemUpsert.model_validate(
        {
            "name": text(200),
            "aliases": [text(100)] * MAX_TERMS,
            "keywords": [text(100)] * MAX_TERMS,
            "basic_code": "B" * 64,
            "implementation_code": "I" * 64,
            "deciding_level": "county",
            "implementing_body": text(200),
            "implementing_body_code": "C" * 32,
            "legal_basis": text(5000),
            "acceptance_conditions": text(5000),
            "procedure": text(5000),
            "legal_days": 3650,
            "legal_limit_note": text(1000),
            "promised_days": 3650,
            "promised_limit_note": text(1000),
            "fee_required": True,
            "fee_basis": text(2000),
            "fee_standard": text(2000),
            "co_departments": [text(200)] * MAX_TERMS,
            "result_name": text(200),
            "place": text(500),
            "hours": text(500),
            "consultation_phone": "0" * 100,
            "supervision_phone": "0" * 100,
            "materials": [
                {"name": text(196) + f"{n:04d}", "notes": text(1000), "form_template": text(500)}
                for n in range(MAX_MATERIALS)
            ],
        }
    )


def _largest_directory() -> DirectoryUpsert:
    code = "M" * 60
    return DirectoryUpsert.model_validate(
        {
            "title": WIDE * 200,
            "entries": [
                {
                    "item_code": f"{code}{n:04d}",
                    "served": False,
                    "handled_at": "county",
                    "handled_by_org": COUNTY,
                }
                for n in range(MAX_ENTRIES)
            ],
            "overrides": [
                {
                    "org_code": f"371424{n:06d}",
                    "item_code": f"{code}{n:04d}",
                    "action": "withhold",
                    "served": False,
                    "handled_at": "county",
                    "handled_by_org": TOWN,
                    "reason": WIDE * 500,
                }
                for n in range(MAX_OVERRIDES)
            ],
        }
    )


async def _outbox_sizes(engine: AsyncEngine) -> list[int]:
    """The size of every event in the outbox, as the relay publishes it (the envelope's JSON)."""
    async with AsyncSession(engine) as session:
        return [len(row.envelope.encode()) for row in (await session.exec(select(OutboxEvent))).all()]


async def test_the_largest_item_fits_in_one_nats_message(
    engine: AsyncEngine, tx: Callable[[], AbstractAsyncContextManager[AsyncSession]]
) -> None:
    content = _largest_item().model_dump(mode="json", exclude={"handling_type"})
    version = ItemVersion(
        item_code="M" * 64,
        version_no=999,
        content=content,
        content_hash="x",
        created_by="admin",
        published_at=utcnow(),
    )
    async with tx() as session:
        await catalogue_events.item_published(session, version, owner_org=COUNTY, supersedes=998)
    [size] = await _outbox_sizes(engine)
    assert size <= MESSAGE_LIMIT, f"the largest item makes a {size}-byte event; NATS carries {MESSAGE_LIMIT}"


async def test_the_largest_directory_fits_in_one_nats_message(
    engine: AsyncEngine, tx: Callable[[], AbstractAsyncContextManager[AsyncSession]]
) -> None:
    directory = _largest_directory().model_dump(mode="json")
    version = DirectoryVersion(
        county_code=COUNTY,
        level="village",
        version_no=999,
        title=directory["title"],
        entries=directory["entries"],
        overrides=directory["overrides"],
        content_hash="x",
        created_by="admin",
        published_at=utcnow(),
    )
    async with tx() as session:
        await catalogue_events.directory_published(session, version)
    [size] = await _outbox_sizes(engine)
    assert size <= MESSAGE_LIMIT, (
        f"the largest directory makes a {size}-byte event; NATS carries {MESSAGE_LIMIT}"
    )
