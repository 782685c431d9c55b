"""Every event type in the network, with its versioned payload model.

Types are dotted past tense. Payloads carry what consumers need so that no consumer has to call the
emitter back (approval learns of a case from these, supervision builds its timeline from these).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

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
    """Base of all payloads; ``version`` goes into the envelope's ``dataschema``, ``event_type`` names
    the one event type that carries this payload."""

    event_type: ClassVar[EventType]

    version: int = 1


class ApplicantData(BaseModel):
    """The applicant in clear: what ``applicant_sealed`` holds once opened with the data key. Events
    emitted before sealing carried it as ``applicant``; nothing emits it in clear any more."""

    name: str
    id_number: str
    phone: str | None = None


class ApplicantMaskedData(BaseModel):
    """The applicant as anyone may see it (张*丰, 371424********123X, 138****5678)."""

    name: str
    id_number: str
    phone: str | None = None


class CarriesApplicant(BaseModel):
    """An event that carries the applicant: sealed for the services that print it, masked for the rest."""

    applicant_sealed: str | None = Field(
        default=None,
        description="The applicant (name, 身份证号, phone) as JSON sealed with the installation's "
        "personal-data key (AES-256-GCM, bound to the case number; shared/personal_data.py). Only "
        "agents and intake hold the key.",
    )
    applicant_masked: ApplicantMaskedData | None = Field(
        default=None, description="The applicant masked, for display by any consumer"
    )
    applicant: ApplicantData | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Deprecated, no longer emitted: the applicant in clear, in events emitted before "
        "sealing (still read from the stream)",
    )


class MaterialRef(BaseModel):
    name: str
    required: bool = True
    originals: int = Field(default=1, description="原件份数")
    copies: int = Field(default=0, description="复印件份数")
    notes: str | None = None


class ItemPublishedV1(Payload):
    event_type: ClassVar[EventType] = EventType.item_published
    item_code: str
    version_no: int = 1
    name: str
    deciding_level: str
    agent_may_take: bool = False
    immediate: bool = False
    promised_days: int = 0
    legal_days: int = 0
    materials: list[MaterialRef] = Field(default_factory=list)
    # Added by the versioned catalogue (consumers that predate them ignore them):
    item_type: str = Field(default="20", description="GB/T 39046 事项类型 code, e.g. 05 行政给付")
    basic_code: str | None = Field(default=None, description="基本编码")
    implementation_code: str | None = Field(default=None, description="实施编码")
    exercising_level: str | None = Field(default=None, description="GB/T 39046 行使层级 code, 4 县 … 6 村")
    implementing_body: str | None = None
    owner_org: str | None = Field(default=None, description="The unit whose admins maintain the item")
    fee_required: bool = False
    co_departments: list[str] = Field(default_factory=list, description="联办机构 (parallel approval)")
    result_name: str | None = None
    max_visits: int | None = Field(default=None, description="到办事现场次数")
    supersedes: int | None = Field(default=None, description="The version this one replaces, if any")
    published_at: datetime | None = None


class ItemRetiredV1(Payload):
    event_type: ClassVar[EventType] = EventType.item_retired
    item_code: str
    version_no: int
    name: str | None = None
    reason: str | None = None
    retired_at: datetime | None = None


class DirectoryEntryRef(BaseModel):
    item_code: str
    served: bool = True
    handled_at: str | None = Field(default=None, description="`town`, `county` or `city`")
    handled_by_org: str | None = None


class UnitOverrideRef(DirectoryEntryRef):
    org_code: str
    action: str = Field(description="`add` or `withhold`")


class DirectoryPublishedV1(Payload):
    event_type: ClassVar[EventType] = EventType.directory_published
    """A county's directory for one level (《乡镇/村(社区)为民服务事项目录》), complete, as published."""

    county_code: str
    level: str = Field(description="`town` or `village`")
    version_no: int
    title: str
    entries: list[DirectoryEntryRef]
    overrides: list[UnitOverrideRef] = Field(default_factory=list)
    published_at: datetime


class CaseEvent(Payload):
    case_id: str
    org_code: str = Field(description="The unit where this happened")
    item_code: str


class CaseCollectedV1(CaseEvent, CarriesApplicant):
    event_type: ClassVar[EventType] = EventType.case_collected
    materials: list[str]
    collected_by: str


class CaseHandedUpV1(CaseEvent, CarriesApplicant):
    event_type: ClassVar[EventType] = EventType.case_handed_up
    to_org: str
    handed_by: str
    materials: list[str]
    origin_org: str = Field(description="Where the case was first received")


class CaseReceivedV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_received
    channel: str = Field(description="`walk_in` at a window or `handoff` from the unit below")
    origin_org: str


class CaseNoticeIssuedV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_notice_issued
    notice_id: str
    missing: list[str]
    issued_by: str


class CaseAcceptedV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_accepted
    receipt_no: str
    accepted_by: str
    accepted_at: datetime
    deciding_org: str
    promised_days: int
    due: date
    due_provisional: bool
    applicant_name: str = Field(description="The applicant's name masked (张*丰); never in clear on the bus")
    origin_org: str
    evaluation_code: str = Field(description="Printed on the receipt; lets the applicant rate the case")


class CaseDecidedV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_decided
    outcome: str
    reason: str | None = None
    decided_by: str
    due: date | None = None
    on_time: bool


class CaseDeliveredV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_delivered
    delivered_by: str
    method: str


class CaseEvaluatedV1(CaseEvent):
    event_type: ClassVar[EventType] = EventType.case_evaluated
    rating: int
    rated_by: str
    bad: bool
