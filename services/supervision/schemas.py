"""API schemas of the supervision service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.case_status import CaseStatus


class HistoryEntry(BaseModel):
    type: str = Field(description="Event type, e.g. `case.handed_up`")
    service: str = Field(description="`catalogue`, `intake`, `approval`, `agents` or `supervision`")
    org_code: str
    at: datetime


class CaseTimeline(BaseModel):
    case_id: str
    item_code: str
    status: CaseStatus
    current_org: str
    history: list[HistoryEntry] = Field(description="Oldest first")


class EvaluationIn(BaseModel):
    case_id: str
    rating: int = Field(ge=1, le=5, description="5 = 非常满意 … 1 = 非常不满意")
    comment: str | None = Field(default=None, max_length=1000)
    evaluation_code: str | None = Field(
        default=None,
        max_length=16,
        description="The code printed on the receipt, for an applicant rating without a token",
    )


class EvaluationRead(BaseModel):
    case_id: str
    rating: int
    comment: str | None
    rated_by: str
    created_at: datetime


class Stats(BaseModel):
    org_code: str
    received: int
    accepted: int
    decided: int
    on_time_rate: float | None = Field(description="Decided within the promised limit ÷ decided")
    satisfaction_rate: float | None = Field(description="Ratings 3–5 (基本满意 or better) ÷ ratings")
    overdue: int = Field(description="Accepted, undecided, past the promised date; or decided late")
