"""Every event type in the network, with its versioned payload model.

Types are dotted past tense. Payloads carry what consumers need so that no consumer has to call the
emitter back (approval learns of a case from these, supervision builds its timeline from these).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class EventType(StrEnum):
    item_published = "item.published"
    item_retired = "item.retired"
    directory_published = "directory.published"
    case_collected = "case.collected"
    case_handed_up = "case.handed_up"
    case_received = "case.received"
    case_notice_issued = "case.notice_issued"
    case_accepted = "case.accepted"
    case_decided = "case.decided"
    case_delivered = "case.delivered"
    case_evaluated = "case.evaluated"


class Payload(BaseModel):
    """Base of all payloads; ``version`` goes into the envelope's ``dataschema``."""

    version: int = 1


class ApplicantData(BaseModel):
    name: str
    id_number: str
    phone: str | None = None


class MaterialRef(BaseModel):
    name: str
    required: bool = True


class ItemPublishedV1(Payload):
    item_code: str
    version_no: int = 1
    name: str
    deciding_level: str
    agent_may_take: bool = False
    immediate: bool = False
    promised_days: int = 0
    legal_days: int = 0
    materials: list[MaterialRef] = Field(default_factory=list)


class ItemRetiredV1(Payload):
    item_code: str
    version_no: int


class CaseEvent(Payload):
    case_id: str
    org_code: str = Field(description="The unit where this happened")
    item_code: str


class CaseCollectedV1(CaseEvent):
    applicant: ApplicantData
    materials: list[str]
    collected_by: str


class CaseHandedUpV1(CaseEvent):
    to_org: str
    handed_by: str
    applicant: ApplicantData
    materials: list[str]
    origin_org: str = Field(description="Where the case was first received")


class CaseReceivedV1(CaseEvent):
    channel: str = Field(description="`walk_in` at a window or `handoff` from the unit below")
    origin_org: str


class CaseNoticeIssuedV1(CaseEvent):
    notice_id: str
    missing: list[str]
    issued_by: str


class CaseAcceptedV1(CaseEvent):
    receipt_no: str
    accepted_by: str
    accepted_at: datetime
    deciding_org: str
    promised_days: int
    due: date
    due_provisional: bool
    applicant_name: str
    origin_org: str
    evaluation_code: str = Field(description="Printed on the receipt; lets the applicant rate the case")


class CaseDecidedV1(CaseEvent):
    outcome: str
    reason: str | None = None
    decided_by: str
    due: date | None = None
    on_time: bool


class CaseDeliveredV1(CaseEvent):
    delivered_by: str
    method: str


class CaseEvaluatedV1(CaseEvent):
    rating: int
    rated_by: str
    bad: bool
