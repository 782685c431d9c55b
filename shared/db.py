"""Database engines and sessions, one database per service, async end to end.

Embedded default: a SQLite file per service under ``var/`` (aiosqlite). With ``WEIMIN_DATABASE_URL``
naming a PostgreSQL database, each service keeps its tables in a schema of its own name (psycopg in
its async mode). The request (or the consumer) owns the transaction: service functions ``flush``;
``session_scope`` and ``SessionDep`` commit. Tables come from Alembic migrations (``shared.migrations``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from fastapi import Depends, Request
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.settings import Settings


def database_url(service: str, settings: Settings) -> str:
    """The synchronous SQLAlchemy URL of a service's database (migrations use it as is)."""
    if settings.database_url:
        url = settings.database_url
        for plain in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
            if url.startswith(plain):
                url = "postgresql+psycopg://" + url[len(plain) :]
        return url
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.var_dir / f'{service}.db').resolve()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def schema_for(service: str) -> str:
    """The PostgreSQL schema a service's tables live in (its own name)."""
    return service


def sqlite_pragmas(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one transaction writes; NORMAL is durable in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(service: str, settings: Settings) -> AsyncEngine:
    url = database_url(service, settings)
    if is_sqlite(url):
        engine = create_async_engine(
            url.replace("sqlite://", "sqlite+aiosqlite://", 1),
            connect_args={"timeout": 30},
            hide_parameters=True,  # statement parameters carry personal data: never into a log line
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            sqlite_pragmas(dbapi_connection)
            # We issue BEGIN ourselves (below), so the driver must not start transactions on its own.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at the start and waits (busy timeout) for it: a deferred
            # transaction that reads, then writes, fails at once with "database is locked" when
            # another writer went first, which clients would see as a 500. A read-only session (a
            # GET's, see ``reader``) begins deferred: WAL readers never wait for the writer.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_async_engine(
        url,
        # No ping before each use (a round trip per request): a connection found dead invalidates the
        # pool and the request answers 503 "retry" (shared.errors); recycling bounds a connection's age.
        pool_recycle=1800,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # Custom plans always: psycopg prepares a statement after five runs, and PostgreSQL's generic
        # plan for it then ignores the values; a list of a rare status (incomplete, undecided) planned
        # for an average status took 238 ms instead of 0.1 ms at 1,000,000 cases.
        connect_args={"options": f"-csearch_path={schema_for(service)} -cplan_cache_mode=force_custom_plan"},
    )
    # Short steps of their own (minting a case number) run on a small autocommitting pool beside the
    # sessions' pool: a statement there commits as it runs, so its row lock lasts one statement, and
    # a session that already holds a connection never waits for its own pool to mint.
    _short_step_engines[engine.sync_engine] = create_async_engine(
        url,
        pool_recycle=1800,
        hide_parameters=True,
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_short_step_pool_size,
        max_overflow=0,
        connect_args={"options": f"-csearch_path={schema_for(service)}"},
    )
    return engine


READ_ONLY = "weimin_read_only"
_short_step_engines: WeakKeyDictionary[Engine, AsyncEngine] = WeakKeyDictionary()


def short_step_engine(session: AsyncSession) -> AsyncEngine | None:
    """The autocommitting engine beside the session's (PostgreSQL), or None (SQLite: one writer at a
    time already, so a step of its own would only add a commit)."""
    bind = session.sync_session.get_bind()
    engine = bind.engine if bind is not None else None
    return _short_step_engines.get(engine) if engine is not None else None


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for sessions that only read: on SQLite their transactions begin
    deferred, so a GET never queues behind a writer for the write lock it does not need."""
    return engine.execution_options(**{READ_ONLY: True})


async def dispose_engine(engine: AsyncEngine) -> None:
    short = _short_step_engines.pop(engine.sync_engine, None)
    if short is not None:
        await short.dispose()
    await engine.dispose()


# An asyncio lock per key (an engine) and the event loop it belongs to (see loop_lock).
LoopLocks = WeakKeyDictionary[Any, tuple[asyncio.AbstractEventLoop, asyncio.Lock]]
_writer_turns: LoopLocks = WeakKeyDictionary()


@asynccontextmanager
async def writer_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """SQLite: this process's write transactions take turns here, first come first served and woken
    the moment the last one commits, instead of in SQLite's busy handler, which sleeps up to 100 ms
    between tries (under load that sleep was the create's p99). Reads and PostgreSQL pass straight."""
    sync = engine.sync_engine
    if sync.dialect.name != "sqlite" or sync.get_execution_options().get(READ_ONLY):
        yield
        return
    async with loop_lock(_writer_turns, sync.engine):
        yield


def loop_lock(
    locks: WeakKeyDictionary[Any, tuple[asyncio.AbstractEventLoop, asyncio.Lock]], key: Any
) -> asyncio.Lock:
    """The lock kept in ``locks`` for ``key`` (an engine) on the running event loop: a process may
    run several loops over time (tests, loaders), and an asyncio lock serves the loop it first ran on."""
    loop = asyncio.get_running_loop()
    held = locks.get(key)
    if held is None or held[0] is not loop:
        held = locks[key] = (loop, asyncio.Lock())
    return held[1]


@asynccontextmanager
async def session_scope(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on any error."""
    async with writer_turn(engine), AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    engine = request.app.state.engine
    if request.method in _READS:
        engine = getattr(request.app.state, "read_engine", None) or engine
    async with session_scope(engine) as session:
        yield session


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.engine) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a 2xx means it is stored.
# A GET's session only reads (on SQLite its transaction begins deferred and could not take the write
# lock later without failing); a GET that records something (a receipt's printing) takes WriteSessionDep.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(_write_session, scope="function")]


async def insert_row(session: AsyncSession, row: Any) -> None:
    """Insert one new row with a single INSERT in the session's transaction, outside the unit of work
    (the hot create paths: the flush machinery cost more than the statement). The object stays
    transient; read it, never change it expecting an UPDATE."""
    table = type(row).__table__
    values = {c.key: getattr(row, c.key) for c in table.columns if getattr(row, c.key, None) is not None}
    await session.exec(insert(table), params=values)  # type: ignore[call-overload]
