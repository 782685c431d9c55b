"""Minting case numbers: a per-unit, per-day counter in the minting service's own database."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.case_numbers import mint_case_number
from shared.db import short_step_engine


class CaseSequence(SQLModel, table=True):
    __tablename__ = "case_sequence"

    org_code: str = Field(primary_key=True, max_length=12)
    day: date = Field(primary_key=True)
    last: int = 0


async def next_case_number(session: AsyncSession, org_code: str, day: date) -> str:
    """The next 办件编号 for a unit on a day, minted atomically.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement: two requests at one unit never read
    the same counter (a read-then-write did, on SQLite, and answered 500 on the duplicate key).

    On PostgreSQL the statement runs as a short step of its own on an autocommitting connection
    (``shared.db.short_step_engine``): the unit's counter row is locked for that one statement, not
    for the rest of the caller's transaction, so creates at one unit never queue behind each other.
    A number minted for a request that then fails is never used: a gap is possible, a duplicate
    never. On SQLite the caller's transaction already holds the database's one write lock, so the
    statement runs in it (no gap there).
    """
    short = short_step_engine(session)
    if short is None:
        dialect = session.sync_session.get_bind().dialect.name
        statement = _upsert(postgresql.insert if dialect == "postgresql" else sqlite.insert, org_code, day)
        last = (await session.exec(statement)).scalar_one()  # type: ignore[call-overload]
    else:
        async with short.connect() as conn:
            last = (await conn.execute(_upsert(postgresql.insert, org_code, day))).scalar_one()
    return mint_case_number(org_code, day, int(last))


def _upsert(insert: Any, org_code: str, day: date) -> Any:
    table = CaseSequence.__table__  # type: ignore[attr-defined]
    return (
        insert(table)
        .values(org_code=org_code, day=day, last=1)
        .on_conflict_do_update(index_elements=["org_code", "day"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
