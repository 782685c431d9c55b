"""Intake tables: cases at the halls' windows, one-time notices (一次性告知单) and receipts (受理凭证)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from shared.case_sequences import CaseSequence
from shared.case_status import CaseStatus, status_column_type
from shared.clock import utcnow
from shared.idempotency import IdempotencyRecord
from shared.item_copies import ItemCopy
from shared.personal_data import SealedString


class IntakeCase(SQLModel, table=True):
    __tablename__ = "intake_case"
    # Lists are keyset pages by case number, scoped to a range of case numbers (shared/jurisdiction.py
    # ``visible(..., case_number=)``): the primary key walks them in order; a list of one status walks
    # this index (status equal, case number in range, in order) instead of sorting the status's rows.
    __table_args__ = (Index("ix_intake_case_status_case_id", "status", "case_id"),)

    case_id: str = Field(primary_key=True, max_length=40)
    item_code: str = Field(max_length=64)
    item_name: str
    item_version: int
    # The item as it stood when the case was received: a later version never alters a running case.
    required_materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    deciding_level: str = Field(default="town", max_length=16)
    promised_days: int = 0
    origin_org: str = Field(max_length=12, index=True)
    current_org: str = Field(max_length=12, index=True)
    channel: str = Field(max_length=16)
    status: CaseStatus = Field(sa_type=status_column_type(), max_length=20)
    # Personal data, sealed in the database (clear in Python; see shared/personal_data.py) and found
    # by the keyed hash of the 身份证号, never by the sealed value.
    applicant_name: str = Field(sa_column=Column(SealedString("intake_case.applicant_name"), nullable=False))
    applicant_id_number: str = Field(
        sa_column=Column(SealedString("intake_case.applicant_id_number"), nullable=False)
    )
    applicant_phone: str | None = Field(
        default=None, sa_column=Column(SealedString("intake_case.applicant_phone"), nullable=True)
    )
    applicant_id_number_hash: str = Field(max_length=64, index=True)
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_officer: str | None = Field(default=None, description="首问负责: the first officer who acted on it")
    received_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None
    deciding_org: str | None = Field(default=None, max_length=12)
    due: date | None = None
    due_provisional: bool = False
    outcome: str | None = None
    # One more on every change: each act is a compare-and-set on it (shared/transitions.py).
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class OneTimeNotice(SQLModel, table=True):
    __tablename__ = "one_time_notice"

    notice_id: str = Field(primary_key=True, max_length=40)
    case_id: str = Field(index=True, max_length=40)
    missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    issued_by: str
    issued_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class Receipt(SQLModel, table=True):
    __tablename__ = "receipt"

    receipt_no: str = Field(primary_key=True, max_length=40)
    case_id: str = Field(unique=True, max_length=40)
    item_code: str
    item_name: str
    org_code: str = Field(max_length=12)
    accepted_on: date
    due: date
    due_provisional: bool = False
    officer: str
    # 评价码: the applicant's alone; only ever on the printed receipt (services/intake/receipts.py).
    evaluation_code: str = Field(max_length=16)


class ReceiptPrint(SQLModel, table=True):
    """Each printing of a receipt, the one place its rating code appears: who printed it, where, when."""

    __tablename__ = "receipt_print"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=40)
    receipt_no: str = Field(max_length=40)
    printed_by: str = Field(max_length=100)
    org_code: str = Field(max_length=12)
    printed_at: datetime = Field(default_factory=utcnow)


# Every table this service keeps in its own database (the outbox and inbox are added by the app).
TABLES = [IntakeCase, OneTimeNotice, Receipt, ReceiptPrint, CaseSequence, IdempotencyRecord, ItemCopy]
