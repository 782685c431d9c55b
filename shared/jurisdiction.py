"""Jurisdiction in one place: what a principal may see, and what they may act on.

A unit's subtree is every division code that starts with its significant prefix (a county sees its
towns and villages; a village agent its village). Every list and every read in every service scopes
its query with ``visible``; every read of one row goes through ``governed_or_404``; a write on a unit
goes through ``require_governs``. A case outside the caller's subtree answers 404, exactly as an
unknown one does, so a caller learns nothing about other units.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, or_
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from shared.auth import Principal
from shared.divisions import is_division_code, prefix_of
from shared.errors import Forbidden, NotFound

T = TypeVar("T")


def within(principal: Principal, *org_columns: Any) -> ColumnElement[bool]:
    """SQL: true when any of the rows' unit columns lies inside the principal's subtree."""
    if not is_division_code(principal.org_code):
        return false()
    prefix = prefix_of(principal.org_code)
    return or_(*(col(column).startswith(prefix) for column in org_columns))


def visible(query: SelectOfScalar[T], principal: Principal, *org_columns: Any) -> SelectOfScalar[T]:
    """Scope a list query to the principal's subtree (by any of the given unit columns)."""
    return query.where(within(principal, *org_columns))


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
