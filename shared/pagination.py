"""Cursor pagination, the same in every list of every service: ``{"items": [...], "next_cursor"}``.

Keyset pages: the cursor is the last row's key, so a page is stable while rows are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from shared.errors import InvalidInput

T = TypeVar("T")

Cursor = Annotated[str | None, Query(max_length=200, description="The `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page")]


def _cursor_value(key: Any, after: str) -> Any:
    try:
        python_type = key.type.python_type
    except NotImplementedError:
        return after
    if python_type is int:
        try:
            return int(after)
        except ValueError as exc:
            raise InvalidInput(f"Not a cursor of this list: {after!r}", slug="invalid-cursor") from exc
    return after


@dataclass
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


async def keyset_page(
    session: AsyncSession,
    query: SelectOfScalar[T],
    key: InstrumentedAttribute[Any] | Any,
    *,
    after: str | None,
    limit: int,
) -> Page[T]:
    """One page of ``query`` ordered by ``key``, starting after the cursor ``after``.

    The cursor is the key's text; it is read back as the key column's type (an integer id compares as
    an integer), and a cursor that cannot be read is a 422, never a 500.
    """
    if after:
        query = query.where(col(key) > _cursor_value(key, after))
    rows = list((await session.exec(query.order_by(col(key)).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(getattr(rows[-1], key.key)) if more and rows else None)
