"""API schemas of the approval service."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from shared.case_status import CaseStatus
from shared.text import LongText


class Outcome(StrEnum):
    approved = "approved"
    rejected = "rejected"


class DecisionIn(BaseModel):
    outcome: Outcome
    reason: LongText | None = Field(
        default=None, description="Required when rejecting; at most 2,000 characters"
    )

    @model_validator(mode="after")
    def _rejection_needs_reason(self) -> DecisionIn:
        if self.outcome == Outcome.rejected and not (self.reason or "").strip():
            raise ValueError("a rejection must give its reason")
        return self


class ApprovalCaseRead(BaseModel):
    case_id: str
    item_code: str
    item_name: str
    origin_org: str
    deciding_org: str
    current_org: str
    status: CaseStatus = Field(description="`accepted` (waiting for the deciding level) or `decided`")
    accepted_at: datetime
    due: date
    due_provisional: bool
    outcome: Outcome | None
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    on_time: bool | None


class ApprovalCasePage(BaseModel):
    items: list[ApprovalCaseRead]
    next_cursor: str | None = None
