"""API schemas of the supervision service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from shared.case_status import CaseStatus
from shared.text import clean_text


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
    case_id: str = Field(min_length=1, max_length=40, description="办件编号")
    rating: int = Field(ge=1, le=5, description="5 = 非常满意 … 1 = 非常不满意")
    comment: Annotated[str, Field(max_length=1000), AfterValidator(clean_text)] | None = None
    evaluation_code: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[A-Za-z0-9 -]*$",
        description="The code printed on the applicant's receipt (评价码), for an applicant rating "
        "without a token; spaces, hyphens and case do not matter. Wrong codes for one case are "
        "counted: after 5 within 15 minutes the case's codes are refused for a while (429)",
    )


class EvaluationRead(BaseModel):
    case_id: str
    rating: int
    comment: str | None
    rated_by: str = Field(description="The agent's username, or `applicant` (rated with the receipt's code)")
    channel: str = Field(description="`agent` (an agent's token) or `receipt_code` (the applicant's code)")
    created_at: datetime


class Stats(BaseModel):
    org_code: str
    received: int
    accepted: int
    decided: int
    on_time_rate: float | None = Field(description="Decided within the promised limit ÷ decided")
    satisfaction_rate: float | None = Field(description="Ratings 3–5 (基本满意 or better) ÷ ratings")
    overdue: int = Field(description="Accepted, undecided, past the promised date; or decided late")
