"""One database per service: SQLite files by default, a schema per service on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import migrations
from shared.db import make_engine, session_scope
from shared.events import OutboxEvent, emit
from shared.settings import Settings
from tests.support import libpq_url, with_database


def test_each_service_gets_its_own_sqlite_file_under_var(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    for service in ("intake", "approval"):
        migrations.upgrade(service, settings)
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == ["approval.db", "intake.db"]


async def test_session_scope_commits_on_success_and_rolls_back_on_error(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    migrations.upgrade("intake", settings)
    engine = make_engine("intake", settings)
    async with session_scope(engine) as session:
        emit(session, source="intake", type="case.received", subject="kept", data={})
    with pytest.raises(ValueError):
        async with session_scope(engine) as session:
            emit(session, source="intake", type="case.received", subject="lost", data={})
            raise ValueError("boom")
    async with AsyncSession(engine) as session:
        subjects = [row.nats_subject for row in (await session.exec(select(OutboxEvent))).all()]
    await engine.dispose()
    assert subjects == ["weimin.intake.case.received"]


async def test_postgresql_url_gives_each_service_its_own_schema(postgres_url: str) -> None:
    database = f"schemas_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    settings = Settings(database_url=with_database(postgres_url, database))
    for name in ("intake", "approval"):
        migrations.upgrade(name, settings)
    engines = {name: make_engine(name, settings) for name in ("intake", "approval")}
    try:
        async with session_scope(engines["intake"]) as session:
            emit(session, source="intake", type="case.accepted", subject="C-1", data={"case_id": "C-1"})
        async with AsyncSession(engines["intake"]) as session:
            assert len((await session.exec(select(OutboxEvent))).all()) == 1
        async with AsyncSession(engines["approval"]) as session:
            assert (await session.exec(select(OutboxEvent))).all() == [], (
                "another service's schema is separate"
            )
            # A list of a rare status is planned for that status, never for an average one (a
            # prepared statement's generic plan took 238 ms instead of 0.1 ms at 1,000,000 cases).
            mode = (await session.exec(text("SHOW plan_cache_mode"))).one()  # type: ignore[call-overload]
            assert mode[0] == "force_custom_plan"
    finally:
        for engine in engines.values():
            await engine.dispose()
