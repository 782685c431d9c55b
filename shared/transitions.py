"""Guarded updates: every change of a case row is one compare-and-set on its ``version``.

A table whose rows move through states keeps a ``version`` (1 when the row is created). An act reads
the row, checks that it may be done (the status it expects, the hall it must be at), and writes with

    UPDATE <table> SET <values>, version = version + 1 WHERE <key> = :key AND version = :version_read

checking that exactly one row changed. Whatever the database's isolation does with the read (SQLite
serialises writers with ``BEGIN IMMEDIATE``; PostgreSQL's READ COMMITTED lets two requests read the same
row), two acts that read the same version cannot both write: the second finds the version moved, is
refused with a 409 (or the caller's 412), and its transaction rolls back with the event it would have
put in the outbox. So each transition is done, and announced, exactly once.

The version is also what a client names in ``If-Match`` (approval's decision): the ETag of a case read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Conflict, WeiminError


class CaseChanged(Conflict):
    """Another request changed the case between this one's read and its write: it lost the race."""

    slug, title = "case-changed", "The case changed meanwhile"


async def guarded_update(
    session: AsyncSession,
    row: SQLModel,
    *,
    stale: Callable[[], WeiminError] | None = None,
    **values: Any,
) -> None:
    """Write ``values`` to ``row`` only if it still has the version this transaction read.

    On success the row (as loaded in the session) carries the new values and version. Otherwise the
    row is reloaded (as the winner left it) and ``stale()`` is raised: by default a ``CaseChanged`` 409
    saying what the case is now; approval's decision with an ``If-Match`` makes it a 412.
    Attributes of ``row`` changed but not yet flushed are flushed first (unguarded, in the same
    transaction: they stand or fall with this update).
    """
    model = type(row)
    mapper = inspect(model)
    keys = [(column, getattr(row, column.key)) for column in mapper.primary_key]
    version_read: int = row.version  # type: ignore[attr-defined]
    statement = (
        update(model)
        .where(*(column == value for column, value in keys))
        .where(model.version == version_read)  # type: ignore[attr-defined]
        .values(**values, version=version_read + 1)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(statement)
    if result.rowcount != 1:
        await session.refresh(row)
        if stale is not None:
            raise stale()
        key = "/".join(str(value) for _, value in keys)
        now = getattr(row, "status", None)
        raise CaseChanged(
            f"Case {key} was changed by another request at the same moment"
            + (f" (it is now {now})" if now else "")
            + "; read it again before acting on it"
        )
    for name, value in {**values, "version": version_read + 1}.items():
        set_committed_value(row, name, value)
