"""API schemas of the agents service."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.schemas import ApplicantMasked


class AgentCaseStatus(StrEnum):
    collected = "collected"  # 已收件: with the agent at the village
    handed_up = "handed_up"  # 已上交: with the town hall
    decided = "decided"  # 已办结: decision known, waiting for delivery
    delivered = "delivered"  # 已送达


class AgentCaseCreated(BaseModel):
    case_id: str
    current_org: str
    status: AgentCaseStatus


class HandoffResult(BaseModel):
    case_id: str
    current_org: str


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
    status: AgentCaseStatus
    applicant: ApplicantMasked
    materials: list[str]
    collected_by: str
    collected_at: datetime
    outcome: str | None
    delivered_at: datetime | None


class AgentCasePage(BaseModel):
    items: list[AgentCaseRead]
    next_cursor: str | None = None
