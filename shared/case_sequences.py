"""Minting case numbers: a per-unit, per-day counter in the minting service's own database."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.case_numbers import mint_case_number


class CaseSequence(SQLModel, table=True):
    __tablename__ = "case_sequence"

    org_code: str = Field(primary_key=True, max_length=12)
    day: date = Field(primary_key=True)
    last: int = 0


async def next_case_number(session: AsyncSession, org_code: str, day: date) -> str:
    """The next 办件编号 for a unit on a day, minted atomically.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement: two requests at one unit never read
    the same counter (a read-then-write did, on SQLite, and answered 500 on the duplicate key).
    """
    dialect = session.sync_session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = CaseSequence.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(org_code=org_code, day=day, last=1)
        .on_conflict_do_update(index_elements=["org_code", "day"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    last = (await session.exec(statement)).scalar_one()  # type: ignore[call-overload]
    return mint_case_number(org_code, day, int(last))
