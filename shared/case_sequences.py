"""Minting case numbers: a per-unit, per-day counter in the minting service's own database."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, Session, SQLModel

from shared.case_numbers import mint_case_number


class CaseSequence(SQLModel, table=True):
    __tablename__ = "case_sequence"

    org_code: str = Field(primary_key=True, max_length=12)
    day: date = Field(primary_key=True)
    last: int = 0


def next_case_number(session: Session, org_code: str, day: date) -> str:
    """The next 办件编号 for a unit on a day; the row lock serialises concurrent mints."""
    row = session.get(CaseSequence, (org_code, day), with_for_update=True)
    if row is None:
        row = CaseSequence(org_code=org_code, day=day, last=0)
    row.last += 1
    session.add(row)
    session.flush()
    return mint_case_number(org_code, day, row.last)
