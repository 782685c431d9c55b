"""The create path's short steps (issue 8): case numbers minted in a step of their own, copies read
from memory, events applied in batches, tokens verified once, GETs that never wait for a writer, and
a lost database connection answered as "retry". Real SQLite files, or real PostgreSQL on the postgres
backend."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import migrations
from shared.auth import Principal, decode_token, issue_token
from shared.case_numbers import parse_case_number
from shared.case_sequences import next_case_number
from shared.db import SessionDep, make_engine, session_scope
from shared.events import Envelope
from shared.events.consumer import Subscription, apply_batch
from shared.events.outbox import InboxEvent
from shared.item_copies import ItemCopy, apply_item_published, apply_item_retired, published_item
from shared.local_copies import LocalCopies
from shared.service_app import create_service_app
from tests.support import (
    assert_problem,
    backend_name,
    create_test_tables,
    libpq_url,
    settings_for,
    with_database,
)

VILLAGE = "371424100201"
DAY = date(2026, 11, 23)


async def test_case_numbers_at_one_unit_may_leave_a_gap_but_never_repeat(tmp_path: Path) -> None:
    """Fifty creates at one unit at once get fifty different numbers; a create whose transaction
    rolls back after minting leaves its number unused (on PostgreSQL, where minting is a step of
    its own, reserving blocks of numbers) and the next one goes on after it."""
    settings = settings_for(tmp_path)
    migrations.upgrade("agents", settings)
    engine = make_engine("agents", settings)
    try:

        async def mint() -> str:
            async with session_scope(engine) as session:
                return await next_case_number(session, VILLAGE, DAY)

        numbers = await asyncio.gather(*(mint() for _ in range(50)))
        assert len(set(numbers)) == 50
        assert sorted(parse_case_number(n).sequence for n in numbers) == list(range(1, 51))

        with pytest.raises(RuntimeError):
            async with session_scope(engine) as session:
                await next_case_number(session, VILLAGE, DAY)
                raise RuntimeError("the create fails after minting")
        after = await mint()
        expected = 52 if backend_name() == "postgres" else 51
        assert parse_case_number(after).sequence == expected
        if backend_name() == "postgres":
            # Another replica (another engine) reserves the next block of 8: numbers interleave,
            # and never repeat.
            replica = make_engine("agents", settings)
            try:
                async with session_scope(replica) as session:
                    theirs = await next_case_number(session, VILLAGE, DAY)
            finally:
                await replica.dispose()
            assert parse_case_number(theirs).sequence == 57
            assert parse_case_number(await mint()).sequence == 53
    finally:
        await engine.dispose()


async def test_a_retired_item_is_refused_at_once_by_the_process_that_applied_it(tmp_path: Path) -> None:
    """Item copies are read from memory; the process applying ``item.retired`` drops its copy when
    that transaction commits, so its very next create is refused."""
    settings = settings_for(tmp_path)
    migrations.upgrade("agents", settings)
    engine = make_engine("agents", settings)
    published = Envelope(
        source="catalogue",
        type="item.published",
        subject="LY-MZ-001",
        data={
            "item_code": "LY-MZ-001",
            "version_no": 1,
            "name": "最低生活保障",
            "deciding_level": "town",
            "agent_may_take": True,
            "materials": [],
        },
    )
    retired = Envelope(
        source="catalogue",
        type="item.retired",
        subject="LY-MZ-001",
        data={"item_code": "LY-MZ-001", "version_no": 1},
    )
    try:
        async with session_scope(engine) as session:
            await apply_item_published(session, published)
        async with session_scope(engine) as session:
            assert (await published_item(session, "LY-MZ-001")).version_no == 1  # now held in memory
        async with session_scope(engine) as session:
            await apply_item_retired(session, retired)
        async with session_scope(engine) as session:
            with pytest.raises(Exception) as refused:
                await published_item(session, "LY-MZ-001")
            assert getattr(refused.value, "slug", None) == "unknown-item"
            assert (await published_item(session, "LY-MZ-001", allow_retired=True)).retired
    finally:
        await engine.dispose()


async def test_a_copy_changed_by_another_process_is_seen_within_the_ttl(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    migrations.upgrade("agents", settings)
    engine = make_engine("agents", settings)
    copies: LocalCopies[str, ItemCopy] = LocalCopies(ttl=0.3)
    loads = 0

    async def read(session: AsyncSession) -> ItemCopy | None:
        async def load() -> ItemCopy | None:
            nonlocal loads
            loads += 1
            row = await session.get(ItemCopy, "X-1")
            return ItemCopy.model_validate(row.model_dump()) if row else None

        return await copies.get(session, "X-1", load)

    try:
        async with session_scope(engine) as session:
            assert await read(session) is None
            assert await read(session) is None
        assert loads == 1, "an unknown item is remembered too"
        async with session_scope(engine) as session:  # "another replica" writes the copy
            session.add(ItemCopy(item_code="X-1", version_no=1, name="甲", deciding_level="town"))
        async with session_scope(engine) as session:
            assert await read(session) is None, "within the ttl the old answer stands"
        await asyncio.sleep(0.35)
        async with session_scope(engine) as session:
            copy = await read(session)
            assert copy is not None and copy.name == "甲"
    finally:
        await engine.dispose()


class BatchEffect(SQLModel, table=True):
    __tablename__ = "test_batch_effect"

    event_id: str = Field(primary_key=True, max_length=64)
    subject: str | None = None


async def test_a_batch_with_a_failing_event_applies_the_others_once(tmp_path: Path) -> None:
    """A fetched batch commits at once; when one event fails, the others are applied one by one
    (each once) and only the failing one is left for redelivery."""
    settings = settings_for(tmp_path)
    migrations.upgrade("supervision", settings)
    engine = make_engine("supervision", settings)
    await create_test_tables(engine, BatchEffect)

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.subject == "bad":
            raise ValueError("cannot apply this one")
        session.add(BatchEffect(event_id=envelope.id, subject=envelope.subject))

    subscription = Subscription(durable="test", handlers={"weimin.test.thing.happened": handle})
    envelopes = [Envelope(source="test", type="thing.happened", subject=s) for s in ("a", "b", "bad", "c")]
    messages = [("weimin.test.thing.happened", e.model_dump_json().encode()) for e in envelopes]
    try:
        good = await apply_batch(engine, subscription, messages[:2] + messages[3:])
        assert good == [True, True, True]
        results = await apply_batch(engine, subscription, messages)  # again, with the bad one
        assert results == [True, True, False, True]
        async with AsyncSession(engine) as session:
            applied = sorted((await session.exec(select(BatchEffect.subject))).all())  # type: ignore[arg-type]
            inbox = (await session.exec(select(InboxEvent).where(InboxEvent.consumer == "test"))).all()
        assert applied == ["a", "b", "c"], "each good event applied exactly once"
        assert len(inbox) == 3
    finally:
        await engine.dispose()


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path, weimin_env: Path) -> None:
    """Verified tokens are remembered, but never past their expiry."""
    from shared.settings import get_settings

    settings = get_settings()
    agent = Principal(username="agent-x", roles=("agent",), org_code=VILLAGE)
    token, _ = issue_token(agent, settings, ttl_seconds=1)
    assert decode_token(token, settings) == agent
    assert decode_token(token, settings) == agent  # from memory
    time.sleep(1.2)
    with pytest.raises(Exception) as refused:
        decode_token(token, settings)
    assert getattr(refused.value, "slug", None) == "token-expired"


def _reading_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A service app with one GET that reads a table of the agents database."""
    from shared.settings import get_settings

    settings = settings_for(tmp_path)
    monkeypatch.setenv("WEIMIN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("WEIMIN_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("WEIMIN_NATS_URL", "nats://127.0.0.1:1")  # no NATS: the app serves anyway
    get_settings.cache_clear()
    router = APIRouter()

    @router.get("/copies")
    async def copies(session: SessionDep) -> dict[str, int]:
        return {"copies": len((await session.exec(select(ItemCopy))).all())}

    return TestClient(create_service_app("agents", title="t", description="t", routers=[router]))


@pytest.mark.skipif(backend_name() == "postgres", reason="SQLite's one write lock")
def test_a_get_answers_while_a_writer_holds_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _reading_app(tmp_path, monkeypatch) as client:
        assert client.get("/copies").json() == {"copies": 0}
        writer = sqlite3.connect(tmp_path / "agents.db", isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a long write transaction holds the lock
        try:
            began = time.monotonic()
            assert client.get("/copies").json() == {"copies": 0}
            assert time.monotonic() - began < 5, "the read did not wait for the writer"
        finally:
            writer.execute("ROLLBACK")
            writer.close()


@pytest.mark.skipif(backend_name() != "postgres", reason="a PostgreSQL server's connections")
def test_a_lost_database_connection_answers_503_retry_then_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections are not pinged before each use: when the server drops them, the request that
    finds out answers 503 with Retry-After (nothing written), and the next one is served."""
    with _reading_app(tmp_path, monkeypatch) as client:
        assert client.get("/copies").status_code == 200
        url = settings_for(tmp_path).database_url
        database = make_url(url).database
        with psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        lost = client.get("/copies")
        assert_problem(lost, 503, "database-unavailable")
        assert lost.headers["retry-after"] == "1"
        assert client.get("/copies").status_code == 200
