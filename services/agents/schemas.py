"""API schemas of the agents service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.case_status import CaseStatus
from shared.schemas import ApplicantMasked


class DeliveryIn(BaseModel):
    method: str = Field(
        default="agent", description="How the result reached the villager (`agent`: in person)"
    )
    note: str | None = Field(default=None, max_length=500)


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
