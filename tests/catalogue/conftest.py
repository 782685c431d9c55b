"""Fixtures for the catalogue's tests: a real SQLite file with the catalogue's tables, the demo
county's units, principals and tokens, and the catalogue's real app (lifespan included)."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, create_engine, select

from services.catalogue import service
from services.catalogue.models import TABLES
from services.catalogue.schemas import ItemUpsert, MaterialSpec, OrgUpsert
from shared.auth import Principal, issue_token
from shared.db import create_tables, session_scope
from shared.events import OutboxEvent
from shared.events.outbox import OUTBOX_TABLES
from shared.settings import get_settings

COUNTY = "371424000000"  # 临邑县
TOWN = "371424100000"  # 临邑镇
OTHER_TOWN = "371424202000"  # 宿安乡
VILLAGE = "371424100201"
NEIGHBOUR = "371424100202"
FAR_VILLAGE = "371424202201"
FOREIGN_COUNTY = "530127000000"  # 嵩明县
PROBLEM_JSON = "application/problem+json"

ADMIN = Principal("admin", ("admin",), COUNTY)
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


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    create_tables(engine, [*(t.__table__ for t in TABLES), *OUTBOX_TABLES])  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        for code, (name, address, phone) in UNITS.items():
            service.upsert_org(session, code=code, data=OrgUpsert(name=name, address=address, phone=phone))
    yield engine
    engine.dispose()


@pytest.fixture
def tx(engine: Engine) -> Callable[[], Any]:
    """``with tx() as session:`` one committed transaction, as a request would have."""
    return lambda: session_scope(engine)


def events(engine: Engine, type_: str | None = None) -> list[dict]:
    """The envelopes the catalogue wrote to its outbox, oldest first."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq))).all()
    found = [json.loads(r.envelope) for r in rows]
    return [e for e in found if type_ is None or e["type"] == type_]


def publish(engine: Engine, item_code: str, data: ItemUpsert, owner: str = COUNTY) -> None:
    with session_scope(engine) as session:
        service.publish_item(session, item_code=item_code, data=data, actor="admin", owner_org=owner)


@contextmanager
def service_app(
    service_name: str, var_dir: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """A service's real app on ``var_dir`` and the test NATS; ``main`` is reloaded so that it reads
    the settings set here."""
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(var_dir))
    monkeypatch.setenv("WEIMIN_NATS_URL", nats_url)
    monkeypatch.setenv("WEIMIN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    module = importlib.reload(importlib.import_module(f"services.{service_name}.main"))
    try:
        with TestClient(module.app) as client:
            yield client
    finally:
        get_settings.cache_clear()


@pytest.fixture
def client(tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The catalogue's app with the demo county's units."""
    with service_app("catalogue", tmp_path / "var", nats_url, monkeypatch) as client:
        with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
            for code, (name, address, phone) in UNITS.items():
                service.upsert_org(
                    session, code=code, data=OrgUpsert(name=name, address=address, phone=phone)
                )
        yield client


def bearer(principal: Principal) -> dict[str, str]:
    token, _ = issue_token(principal, get_settings())
    return {"Authorization": f"Bearer {token}"}


def assert_problem(reply: Any, status: int, slug: str | None = None) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM_JSON), reply.headers["content-type"]
    body = reply.json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    if slug is not None:
        assert body["type"] == f"urn:weimin:problem:{slug}", body
    return body


def wait_for(probe: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
