"""One database per service: SQLite files by default, a schema per service on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, select

from shared.db import create_tables, make_engine, session_scope
from shared.events import OutboxEvent, emit
from shared.events.outbox import OUTBOX_TABLES
from shared.settings import Settings


def test_each_service_gets_its_own_sqlite_file_under_var(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    for service in ("intake", "approval"):
        engine = make_engine(service, settings)
        create_tables(engine, OUTBOX_TABLES)
        engine.dispose()
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == ["approval.db", "intake.db"]


def test_session_scope_commits_on_success_and_rolls_back_on_error(tmp_path: Path) -> None:
    engine = make_engine("intake", Settings(var_dir=tmp_path))
    create_tables(engine, OUTBOX_TABLES)
    with session_scope(engine) as session:
        emit(session, source="intake", type="case.received", subject="kept", data={})
    with pytest.raises(ValueError), session_scope(engine) as session:
        emit(session, source="intake", type="case.received", subject="lost", data={})
        raise ValueError("boom")
    with Session(engine) as session:
        subjects = [row.nats_subject for row in session.exec(select(OutboxEvent)).all()]
    assert subjects == ["weimin.intake.case.received"]


def test_postgresql_url_gives_each_service_its_own_schema(postgres_url: str) -> None:
    marker = uuid.uuid4().hex[:8]
    settings = Settings(database_url=postgres_url)
    engines = {name: make_engine(f"{name}_{marker}", settings) for name in ("intake", "approval")}
    try:
        for engine in engines.values():
            create_tables(engine, OUTBOX_TABLES)
        with session_scope(engines["intake"]) as session:
            emit(session, source="intake", type="case.accepted", subject="C-1", data={"case_id": "C-1"})
        with Session(engines["intake"]) as session:
            assert len(session.exec(select(OutboxEvent)).all()) == 1
        with Session(engines["approval"]) as session:
            assert session.exec(select(OutboxEvent)).all() == [], "another service's schema is separate"
    finally:
        for engine in engines.values():
            engine.dispose()
