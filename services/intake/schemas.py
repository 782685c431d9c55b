"""API schemas of the intake service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.case_status import CaseStatus
from shared.schemas import MAX_MATERIALS, ApplicantMasked, MaterialIn


class AcceptIn(BaseModel):
    materials: list[MaterialIn] = Field(
        default_factory=list, max_length=MAX_MATERIALS, description="Materials presented now"
    )


class ReceiptRead(BaseModel):
    """受理凭证: written proof of acceptance."""

    receipt_no: str
    case_id: str
    item_code: str
    item_name: str
    org_code: str
    accepted_on: date
    due: date = Field(description="Promised completion date (承诺办结日期), counted in working days")
    due_provisional: bool = Field(
        description="True when the holiday calendar of the due year is not yet known"
    )
    officer: str
    print_url: str = Field(
        description="The receipt as the applicant's printed copy, with their rating code (评价码): only "
        "printed there, never in a JSON answer (a clerk of the accepting hall prints it; each printing "
        "is recorded)"
    )


class NoticeRead(BaseModel):
    """一次性告知单: every missing material, listed at once."""

    notice_id: str
    case_id: str
    missing: list[str]
    issued_by: str
    issued_at: datetime


class AcceptOutcome(BaseModel):
    outcome: Literal["accepted", "incomplete"]
    receipt: ReceiptRead | None = None
    notice: NoticeRead | None = None


class IntakeCaseRead(BaseModel):
    case_id: str
    item_code: str
    item_name: str
    origin_org: str
    current_org: str
    channel: str
    status: CaseStatus
    applicant: ApplicantMasked
    materials: list[str]
    first_officer: str | None
    received_at: datetime
    accepted_at: datetime | None
    deciding_org: str | None
    due: date | None
    due_provisional: bool


class IntakeCasePage(BaseModel):
    items: list[IntakeCaseRead]
    next_cursor: str | None = None
