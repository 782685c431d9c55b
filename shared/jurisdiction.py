"""Jurisdiction in one place: what a principal may see, and what they may act on.

A unit's subtree is every division code that starts with its significant prefix (a county sees its
towns and villages; a village agent its village). Every list and every read in every service scopes
its query with ``visible``; every read of one row goes through ``governed_or_404``; a write on a unit
goes through ``require_governs``. A case outside the caller's subtree answers 404, exactly as an
unknown one does, so a caller learns nothing about other units.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from shared.auth import Principal
from shared.divisions import is_division_code, prefix_of
from shared.errors import Forbidden, NotFound

T = TypeVar("T")


def _next_prefix(prefix: str) -> str | None:
    """The smallest digit string of the same length above ``prefix`` (None past ``99…9``)."""
    above = int(prefix) + 1
    return None if above >= 10 ** len(prefix) else str(above).zfill(len(prefix))


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """SQL: the column's text starts with the digit string ``prefix``, as a range of the column.

    ``prefix <= column < next(prefix)`` holds exactly for the strings that start with ``prefix``
    (digits order the same in every collation), and unlike ``LIKE 'prefix%'`` it is an index range
    on both databases (SQLite's LIKE is case-insensitive and skips indexes; PostgreSQL's needs
    ``text_pattern_ops`` under a non-C collation), so an index on ``(column, ...)`` serves it."""
    above = _next_prefix(prefix)
    if above is None:
        return col(column) >= prefix
    return and_(col(column) >= prefix, col(column) < above)


def within(principal: Principal, *org_columns: Any) -> ColumnElement[bool]:
    """SQL: true when any of the rows' unit columns lies inside the principal's subtree."""
    if not is_division_code(principal.org_code):
        return false()
    code, prefix = principal.org_code, prefix_of(principal.org_code)
    if prefix == code:  # a village: its subtree is itself (a unit column holds 12-digit codes)
        return or_(*(col(column) == code for column in org_columns))
    return or_(*(starts_with(column, prefix) for column in org_columns))


def visible(
    query: SelectOfScalar[T], principal: Principal, *org_columns: Any, case_number: Any = None
) -> SelectOfScalar[T]:
    """Scope a list query to the principal's subtree (by any of the given unit columns).

    ``case_number``: the rows' 办件编号 column, for a table whose unit columns each name the unit
    where the case was first received or one above it. A case number begins with the unit that first
    received the case (shared/case_numbers.py), and a unit in the subtree has every unit below it
    there too, so every visible row's number lies in the subtree's range of numbers: said in SQL, it
    lets a list ordered by case number walk that range alone instead of every case. It selects no
    other rows (it is implied), it only tells the database where they are.
    """
    query = query.where(within(principal, *org_columns))
    if case_number is not None and is_division_code(principal.org_code):
        query = query.where(starts_with(case_number, prefix_of(principal.org_code)))
    return query


def governed_or_404(
    row: T | None, principal: Principal, *org_codes: str | None, what: str, slug: str = "case-not-found"
) -> T:
    """The row when one of its units lies in the caller's subtree; otherwise 404, as if unknown.

    ``what`` names it for the message ("case 371424…"); ``org_codes`` are the row's units (where it
    is, where it came from, every unit it passed through).
    """
    if row is None or not principal.governs_any(c for c in org_codes if c):
        raise NotFound(f"No {what} in your jurisdiction", slug=slug)
    return row


def require_governs(principal: Principal, org_code: str, *, what: str = "unit") -> None:
    """A write on (or a figure about) a unit needs the unit inside the caller's subtree: else 403."""
    if not principal.governs(org_code):
        raise Forbidden(f"{what} {org_code} is outside your jurisdiction", slug="outside-jurisdiction")
