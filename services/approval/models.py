"""Approval tables: cases waiting for the deciding level, and their decisions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from shared.case_status import CaseStatus, status_column_type
from shared.item_copies import ItemCopy


class ApprovalCase(SQLModel, table=True):
    __tablename__ = "approval_case"
    # Lists are keyset pages by case number, scoped to a range of case numbers (shared/jurisdiction.py
    # ``visible(..., case_number=)``): the primary key walks them in order; a list of one status walks
    # this index (status equal, case number in range, in order) instead of sorting the status's rows.
    __table_args__ = (Index("ix_approval_case_status_case_id", "status", "case_id"),)

    case_id: str = Field(primary_key=True, max_length=40)
    item_code: str = Field(max_length=64)
    item_name: str
    origin_org: str = Field(max_length=12, index=True)
    # The unit that decides, as intake named it when it accepted the case (town, county or city).
    deciding_org: str = Field(max_length=12, index=True)
    current_org: str = Field(max_length=12)
    applicant_name: str
    # ``accepted`` while it waits for the deciding level, then ``decided``.
    status: CaseStatus = Field(sa_type=status_column_type(), max_length=20)
    accepted_at: datetime
    promised_days: int
    due: date
    due_provisional: bool = False
    outcome: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    on_time: bool | None = None
    # One more on every change: each act is a compare-and-set on it (shared/transitions.py).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


# Every table this service keeps in its own database (the outbox and inbox are added by the app).
TABLES = [ApprovalCase, ItemCopy]
