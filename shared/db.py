"""Database engines and sessions, one database per service, async end to end.

Embedded default: a SQLite file per service under ``var/`` (aiosqlite). With ``WEIMIN_DATABASE_URL``
naming a PostgreSQL database, each service keeps its tables in a schema of its own name (psycopg in
its async mode). The request (or the consumer) owns the transaction: service functions ``flush``;
``session_scope`` and ``SessionDep`` commit. Tables come from Alembic migrations (``shared.migrations``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
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
            # another writer went first, which clients would see as a 500.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_args={"options": f"-csearch_path={schema_for(service)}"},
    )


@asynccontextmanager
async def session_scope(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on any error."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.engine) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a 2xx means it is stored.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
