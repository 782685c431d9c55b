"""API schemas of the agents service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.case_status import CaseStatus
from shared.schemas import ApplicantMasked
from shared.text import Label, Note


class DeliveryIn(BaseModel):
    method: Label = Field(
        default="agent",
        description="How the result reached the villager (`agent`: in person); one line, ≤ 50 characters",
    )
    note: Note | None = Field(default=None, description="送达备注, at most 500 characters")


class AgentCaseRead(BaseModel):
    case_id: str
    item_code: str
    item_name: str
    village_code: str
    current_org: str
    status: CaseStatus
    applicant: ApplicantMasked
    materials: list[str]
    collected_by: str
    collected_at: datetime
    outcome: str | None
    delivered_at: datetime | None


class AgentCasePage(BaseModel):
    items: list[AgentCaseRead]
    next_cursor: str | None = None
