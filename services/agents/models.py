"""Agents tables: the cases village proxy agents (代办员) collect and carry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.case_sequences import CaseSequence
from shared.case_status import CaseStatus, status_column_type
from shared.clock import utcnow
from shared.directory_copies import DirectoryCopy
from shared.idempotency import IdempotencyRecord
from shared.item_copies import ItemCopy


class AgentCase(SQLModel, table=True):
    __tablename__ = "agent_case"

    case_id: str = Field(primary_key=True, max_length=40)
    item_code: str = Field(max_length=64)
    item_name: str
    item_version: int
    village_code: str = Field(max_length=12, index=True)
    current_org: str = Field(max_length=12)
    status: CaseStatus = Field(sa_type=status_column_type(), max_length=20, index=True)
    applicant_name: str
    applicant_id_number: str = Field(max_length=18)
    applicant_phone: str | None = None
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    collected_by: str
    collected_at: datetime = Field(default_factory=utcnow)
    outcome: str | None = None
    decision_reason: str | None = None
    delivered_at: datetime | None = None
    delivered_by: str | None = None
    delivery_method: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


# Every table this service keeps in its own database (the outbox and inbox are added by the app).
TABLES = [AgentCase, CaseSequence, IdempotencyRecord, ItemCopy, DirectoryCopy]
