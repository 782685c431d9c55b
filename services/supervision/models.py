"""Supervision read models, built from events alone: case views, timelines, evaluations (好差评)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.case_status import CaseStatus, status_column_type
from shared.clock import utcnow


class CaseView(SQLModel, table=True):
    __tablename__ = "case_view"

    case_id: str = Field(primary_key=True, max_length=40)
    item_code: str = Field(max_length=64)
    # The furthest the case has gone (status only moves forward, whatever order events arrive in).
    status: CaseStatus = Field(sa_type=status_column_type(), max_length=20, index=True)
    # Where it was first received. Every unit a case passes through (its ``orgs``) is this unit or
    # one above it, so "its subtree holds origin_org" is "the case touched its subtree": the indexed
    # column serves subtree queries; ``orgs`` serves the check on one row.
    origin_org: str = Field(max_length=12, index=True)
    current_org: str = Field(max_length=12)
    orgs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime
    accepted_at: datetime | None = None
    due: date | None = None
    due_provisional: bool = False
    decided_at: datetime | None = None
    outcome: str | None = None
    on_time: bool | None = None
    delivered_at: datetime | None = None
    evaluation_code: str | None = Field(default=None, max_length=16)
    rating: int | None = None


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline_entry"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=40)
    event_id: str = Field(unique=True, max_length=64)
    type: str = Field(max_length=64)
    service: str = Field(max_length=32)
    org_code: str = Field(max_length=12)
    at: datetime


class Evaluation(SQLModel, table=True):
    __tablename__ = "evaluation"

    case_id: str = Field(primary_key=True, max_length=40)
    rating: int
    comment: str | None = None
    rated_by: str = Field(description="The agent's username, or `applicant` when rated with the receipt code")
    # Who really posted it: `agent` (an agent's token) or `receipt_code` (no token, the applicant's
    # code), and the caller: the token's username, or `anonymous`.
    channel: str = Field(default="agent", max_length=16, sa_column_kwargs={"server_default": "agent"})
    caller: str = Field(default="anonymous", max_length=100, sa_column_kwargs={"server_default": "anonymous"})
    org_code: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)


class UnitFigures(SQLModel, table=True):
    """The figures of the cases first received at one unit (``CaseView.origin_org``), kept up to date
    by ``read_models`` in the transaction that applies each event: a subtree's figures are the sum of
    its units' rows (a few hundred rows for a county), never a count over every case."""

    __tablename__ = "unit_figures"

    org_code: str = Field(primary_key=True, max_length=12)
    received: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # every case
    accepted: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # accepted_at set
    decided: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # decided_at set
    on_time: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # on_time true
    decided_late: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # on_time false
    rated: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # rating set
    satisfied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # rating 3 or better


class OpenCasesDue(SQLModel, table=True):
    """Accepted, undecided cases first received at a unit, by their promised date (``due``): the ones
    overdue on a day are the rows due before it, so "overdue" needs no count per request either."""

    __tablename__ = "open_cases_due"

    org_code: str = Field(primary_key=True, max_length=12)
    due: date = Field(primary_key=True)
    cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


# Every table this service keeps in its own database (the outbox and inbox are added by the app).
TABLES = [CaseView, TimelineEntry, Evaluation, UnitFigures, OpenCasesDue]
