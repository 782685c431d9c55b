"""Database engine and sessions, one database per service.

Embedded default: a SQLite file per service under ``var/``. With ``WEIMIN_DATABASE_URL`` naming a
PostgreSQL database, each service keeps its tables in a schema of its own name. The request (or the
consumer) owns the transaction: service functions ``flush``; ``session_scope`` commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, Table, event, text
from sqlmodel import Session, SQLModel, create_engine

from shared.settings import Settings


def database_url(service: str, settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.var_dir / f'{service}.db').resolve()}"


def make_engine(service: str, settings: Settings) -> Engine:
    url = database_url(service, settings)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the relay and consumers read while a request writes; NORMAL is durable in WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    schema = service
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_args={"options": f"-csearch_path={schema}"},
    )
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def create_tables(engine: Engine, tables: Sequence[Table]) -> None:
    SQLModel.metadata.create_all(engine, tables=list(tables))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _request_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


# At most this many request transactions at once per process; more requests wait without holding a
# thread. Kept below the pool (db_pool_size + db_max_overflow) and the threadpool (40): a request that
# holds a connection needs a worker thread to finish its response, so unbounded transactions let
# threads block on the pool while connection holders wait for a thread (seen: 64 clients hung 30 s).
MAX_CONCURRENT_TRANSACTIONS = 24

# scope="function": the commit happens before the response is sent, so a 2xx means it is stored.
SessionDep = Annotated[
    Session, Depends(_request_session, scope="function", max_concurrency=MAX_CONCURRENT_TRANSACTIONS)
]
