"""Agents tables: the cases village proxy agents (代办员) collect and carry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from shared.case_sequences import CaseSequence
from shared.case_status import CaseStatus, status_column_type
from shared.clock import utcnow
from shared.directory_copies import DirectoryCopy
from shared.idempotency import IdempotencyRecord
from shared.item_copies import ItemCopy
from shared.personal_data import SealedString


class AgentCase(SQLModel, table=True):
    __tablename__ = "agent_case"
    # Lists are keyset pages by case number, scoped to a range of case numbers (shared/jurisdiction.py
    # ``visible(..., case_number=)``). A village's list walks its own case numbers in order on these
    # (its village equal, or its village and the status equal); SQLite would rather sort the village's
    # rows than walk the primary key when an index names the village.
    __table_args__ = (
        Index("ix_agent_case_village_code_case_id", "village_code", "case_id"),
        Index("ix_agent_case_village_code_status_case_id", "village_code", "status", "case_id"),
    )

    case_id: str = Field(primary_key=True, max_length=40)
    item_code: str = Field(max_length=64)
    item_name: str
    item_version: int
    village_code: str = Field(max_length=12)
    current_org: str = Field(max_length=12)
    status: CaseStatus = Field(sa_type=status_column_type(), max_length=20)
    # Personal data, sealed in the database (clear in Python; see shared/personal_data.py) and found
    # by the keyed hash of the 身份证号, never by the sealed value.
    applicant_name: str = Field(sa_column=Column(SealedString("agent_case.applicant_name"), nullable=False))
    applicant_id_number: str = Field(
        sa_column=Column(SealedString("agent_case.applicant_id_number"), nullable=False)
    )
    applicant_phone: str | None = Field(
        default=None, sa_column=Column(SealedString("agent_case.applicant_phone"), nullable=True)
    )
    applicant_id_number_hash: str = Field(max_length=64, index=True)
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    collected_by: str
    collected_at: datetime = Field(default_factory=utcnow)
    outcome: str | None = None
    decision_reason: str | None = None
    delivered_at: datetime | None = None
    delivered_by: str | None = None
    delivery_method: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # One more on every change: each act is a compare-and-set on it (shared/transitions.py).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


# Every table this service keeps in its own database (the outbox and inbox are added by the app).
TABLES = [AgentCase, CaseSequence, IdempotencyRecord, ItemCopy, DirectoryCopy]
