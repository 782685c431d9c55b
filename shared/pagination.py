"""Cursor pagination, the same in every list: ``{"items": [...], "next_cursor"}``.

Keyset pages: the cursor is the last row's key, so a page is stable while rows are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, col
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")

Cursor = Annotated[str | None, Query(description="The `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page")]


@dataclass
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


def keyset_page(
    session: Session,
    query: SelectOfScalar[T],
    key: InstrumentedAttribute[Any] | Any,
    *,
    after: str | None,
    limit: int,
) -> Page[T]:
    """One page of ``query`` ordered by ``key``, starting after the cursor ``after``."""
    if after:
        query = query.where(col(key) > after)
    rows = list(session.exec(query.order_by(col(key)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(getattr(rows[-1], key.key)) if more and rows else None)
