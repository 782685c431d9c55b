"""Minting case numbers: a per-unit, per-day counter in the minting service's own database."""

from __future__ import annotations

from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.case_numbers import mint_case_number
from shared.db import LoopLocks, loop_lock, short_step_engine
from shared.settings import get_settings


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
    It reserves a block of ``case_number_block`` numbers (default 8) that this process hands out
    from memory, one statement per block instead of per case. A number minted for a request that
    then fails is never used, and a block's unused numbers are lost when the process stops: a gap
    is possible, a duplicate never; numbers from two replicas interleave. On SQLite the caller's
    transaction already holds the database's one write lock, so the statement runs in it, one
    number at a time (no gap there).
    """
    short = short_step_engine(session)
    if short is None:
        dialect = session.sync_session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        last = (await session.exec(_upsert(insert, org_code, day, 1))).scalar_one()  # type: ignore[call-overload]
        return mint_case_number(org_code, day, int(last))
    return mint_case_number(org_code, day, await _from_block(short, org_code, day))


# Per engine: (unit, day) -> [next number, last number reserved]; reservations take turns on a lock.
_blocks: WeakKeyDictionary[Any, dict[tuple[str, date], list[int]]] = WeakKeyDictionary()
_reserving: LoopLocks = WeakKeyDictionary()


async def _from_block(short: AsyncEngine, org_code: str, day: date) -> int:
    blocks = _blocks.setdefault(short.sync_engine, {})
    key = (org_code, day)
    block = blocks.get(key)
    if block is None or block[0] > block[1]:
        # One reservation at a time: callers meanwhile take from the new block.
        async with loop_lock(_reserving, short.sync_engine):
            block = blocks.get(key)
            if block is None or block[0] > block[1]:
                size = max(1, get_settings().case_number_block)
                async with short.connect() as conn:
                    last = int(
                        (await conn.execute(_upsert(postgresql.insert, org_code, day, size))).scalar_one()
                    )
                for stale in [k for k in blocks if k[1] != day]:
                    del blocks[stale]  # yesterday's blocks are never drawn from again
                block = blocks[key] = [last - size + 1, last]
    number = block[0]
    block[0] += 1
    return number


def _upsert(insert: Any, org_code: str, day: date, count: int) -> Any:
    table = CaseSequence.__table__  # type: ignore[attr-defined]
    return (
        insert(table)
        .values(org_code=org_code, day=day, last=count)
        .on_conflict_do_update(index_elements=["org_code", "day"], set_={"last": table.c.last + count})
        .returning(table.c.last)
    )
