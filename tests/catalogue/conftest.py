"""Fixtures for the catalogue's tests: the catalogue's real database (built by its migrations), the
demo county's units, principals and tokens, and the catalogue's real app (lifespan included)."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import service
from services.catalogue.schemas import ItemUpsert, MaterialSpec, OrgUpsert
from shared import migrations
from shared.auth import Principal
from shared.db import make_engine, session_scope
from shared.events import OutboxEvent
from shared.settings import Settings, get_settings
from tests.support import PROBLEM_JSON, assert_problem, bearer, database_url_for, eventually, settings_for

# Re-exported: the catalogue tests import these from here.
__reexported__ = (PROBLEM_JSON, assert_problem, bearer, eventually)

T = TypeVar("T")

COUNTY = "371424000000"  # 临邑县
TOWN = "371424100000"  # 临邑镇
OTHER_TOWN = "371424202000"  # 宿安乡
VILLAGE = "371424100201"
NEIGHBOUR = "371424100202"
FAR_VILLAGE = "371424202201"
FOREIGN_COUNTY = "530127000000"  # 嵩明县
FOREIGN_TOWN = "530127100000"  # 嵩阳街道

ADMIN = Principal("admin", ("admin",), COUNTY)
TOWN_ADMIN = Principal(f"admin-{TOWN}", ("admin",), TOWN)
FOREIGN_ADMIN = Principal("admin-songming", ("admin",), FOREIGN_COUNTY)
CLERK = Principal(f"clerk-{TOWN}", ("clerk",), TOWN)

UNITS = {
    COUNTY: ("临邑县", "临邑县政务服务中心", "0534-4212345"),
    TOWN: ("临邑镇", "临邑镇为民服务中心", "0534-4210100"),
    OTHER_TOWN: ("宿安乡", "宿安乡为民服务中心", "0534-4210202"),
    VILLAGE: ("示例东村", None, None),
    NEIGHBOUR: ("示例西村", None, None),
    FAR_VILLAGE: ("示例南村", None, None),
}


def item(name: str = "临时救助", **fields: Any) -> ItemUpsert:
    """An item with sensible defaults: town decides, agents may take it, two required materials."""
    fields.setdefault("deciding_level", "town")
    fields.setdefault("agent_may_take", True)
    fields.setdefault("promised_days", 5)
    fields.setdefault("legal_days", 10)
    fields.setdefault("materials", [MaterialSpec(name="申请书"), MaterialSpec(name="居民身份证", copies=1)])
    return ItemUpsert(name=name, **fields)


async def seed_units(engine: AsyncEngine) -> None:
    async with session_scope(engine) as session:
        for code, (name, address, phone) in UNITS.items():
            await service.upsert_org(
                session, code=code, data=OrgUpsert(name=name, address=address, phone=phone)
            )


@pytest.fixture
def catalogue_settings(tmp_path: Path) -> Settings:
    """The test's own catalogue database, brought to head by the catalogue's migrations (before the
    test's event loop starts: ``upgrade`` is synchronous)."""
    settings = settings_for(tmp_path / "var")
    migrations.upgrade("catalogue", settings)
    return settings


@pytest.fixture
async def engine(catalogue_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine("catalogue", catalogue_settings)
    await seed_units(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def tx(engine: AsyncEngine) -> Callable[[], AbstractAsyncContextManager[AsyncSession]]:
    """``async with tx() as session:`` one committed transaction, as a request would have."""
    return lambda: session_scope(engine)


async def events(engine: AsyncEngine, type_: str | None = None) -> list[dict]:
    """The envelopes the catalogue wrote to its outbox, oldest first."""
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
    found = [json.loads(r.envelope) for r in rows]
    return [e for e in found if type_ is None or e["type"] == type_]


async def publish(engine: AsyncEngine, item_code: str, data: ItemUpsert, owner: str = COUNTY) -> None:
    async with session_scope(engine) as session:
        await service.publish_item(session, item_code=item_code, data=data, actor="admin", owner_org=owner)


@contextmanager
def service_app(
    service_name: str, var_dir: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """A service's real app on ``var_dir`` (and, on the postgres backend, a database of its own) and
    the test NATS; ``main`` is reloaded so that it reads the settings set here. The app's lifespan
    migrates its database."""
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(var_dir))
    monkeypatch.setenv("WEIMIN_DATABASE_URL", database_url_for(var_dir))
    monkeypatch.setenv("WEIMIN_NATS_URL", nats_url)
    monkeypatch.setenv("WEIMIN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    module = importlib.reload(importlib.import_module(f"services.{service_name}.main"))
    try:
        with TestClient(module.app) as client:
            yield client
    finally:
        get_settings.cache_clear()


def in_app(client: TestClient, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work(engine)`` on the app's event loop, with the app's engine (a sync test's way to
    look into, or set up, the database of a running app)."""
    portal = client.portal
    assert portal is not None, "the TestClient must be entered (with TestClient(app) as client)"
    engine = client.app.state.engine  # type: ignore[attr-defined]

    async def run() -> T:
        return await work(engine)

    return portal.call(run)


@pytest.fixture
def client(tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The catalogue's app with the demo county's units."""
    with service_app("catalogue", tmp_path / "var", nats_url, monkeypatch) as client:
        in_app(client, seed_units)
        yield client
