"""API schemas of the catalogue service: orgs, items (GB/T 39046 attributes), directories, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, computed_field, field_validator, model_validator

from services.catalogue.codes import (
    BodyNature,
    DecidingLevel,
    ExercisingLevel,
    HandlingForm,
    HandlingType,
    ItemType,
    LimitUnit,
    ServiceObject,
)
from shared.divisions import CODE_PATTERN
from shared.schemas import ITEM_CODE_PATTERN, MAX_MATERIALS
from shared.text import LongText, Note, ShortText, clean_text

# The catalogue's free text: each bounded (an item travels whole in ``item.published``, a directory in
# ``directory.published``: each must fit in one NATS message), control and format characters refused.
Code = Annotated[str, Field(max_length=64), AfterValidator(clean_text)]
Term = Annotated[str, Field(max_length=100), AfterValidator(clean_text)]
Line = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
Paragraph = Annotated[str, Field(max_length=1000), AfterValidator(clean_text)]
Passage = Annotated[str, Field(max_length=5000), AfterValidator(clean_text)]
CreditCode = Annotated[str, Field(max_length=32), AfterValidator(clean_text)]
OrgName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_text)]
# Lists of short terms (aliases, keywords, departments), and of coded values.
MAX_TERMS = 50
MAX_CODES = 20


class OrgBase(BaseModel):
    name: OrgName
    address: Line | None = None
    phone: Term | None = Field(
        default=None, description="The hall's phone (a landline, or a hotline such as 12345)"
    )


class OrgUpsert(OrgBase):
    pass


class OrgRead(OrgBase):
    code: str = Field(pattern=CODE_PATTERN)
    level: str = Field(description="`city`, `county`, `town` or `village`")
    parent_code: str | None


class OrgPage(BaseModel):
    items: list[OrgRead]
    next_cursor: str | None = None


class MaterialSpec(BaseModel):
    """申请材料."""

    name: ShortText = Field(description="材料名称")
    required: bool = Field(default=True, description="是否必要")
    originals: int = Field(default=1, ge=0, le=99, description="原件份数")
    copies: int = Field(default=0, ge=0, le=99, description="复印件份数")
    notes: Paragraph | None = Field(default=None, description="备注 / 填报须知")
    form_template: Note | None = Field(default=None, description="空白表格或样表 (URL or file)")


def _clean_list(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in (v.strip() for v in values):
        if value and value not in seen:
            seen.append(value)
    return seen


class ItemBase(BaseModel):
    """An item's attributes as one version holds them (GB/T 39046-2020, 事项管理)."""

    name: ShortText = Field(description="事项名称")
    aliases: list[Term] = Field(
        default_factory=list, max_length=MAX_TERMS, description="别名, e.g. 低保 for 最低生活保障"
    )
    keywords: list[Term] = Field(default_factory=list, max_length=MAX_TERMS, description="关键词 for search")
    basic_code: Code | None = Field(default=None, description="基本编码")
    implementation_code: Code | None = Field(
        default=None, description="实施编码 (basic code + implementing body and level)"
    )
    item_type: ItemType = Field(default=ItemType.public_service, description="事项类型")
    exercising_level: ExercisingLevel = Field(default=ExercisingLevel.county, description="行使层级")
    deciding_level: DecidingLevel = Field(description="The level whose hall decides (审批层级)")
    implementing_body: Line | None = Field(default=None, description="实施主体")
    implementing_body_code: CreditCode | None = Field(
        default=None, description="实施主体编码 (统一社会信用代码)"
    )
    implementing_body_nature: BodyNature = Field(default=BodyNature.statutory, description="实施主体性质")
    legal_basis: Passage | None = Field(default=None, description="设定依据 / 办理依据")
    acceptance_conditions: Passage | None = Field(default=None, description="受理条件")
    procedure: Passage | None = Field(default=None, description="办理流程")
    legal_days: int = Field(default=0, ge=0, le=3650, description="法定办结时限")
    legal_limit_note: Paragraph | None = Field(default=None, description="法定时限说明")
    promised_days: int = Field(default=0, ge=0, le=3650, description="承诺办结时限")
    promised_limit_note: Paragraph | None = Field(default=None, description="承诺时限说明")
    limit_unit: LimitUnit = Field(default=LimitUnit.working_day, description="时限单位")
    immediate: bool = Field(default=False, description="即办件 (decided on the spot) rather than 承诺件")
    fee_required: bool = Field(default=False, description="是否收费")
    fee_basis: LongText | None = Field(default=None, description="收费依据")
    fee_standard: LongText | None = Field(default=None, description="收费标准")
    co_departments: list[Line] = Field(
        default_factory=list, max_length=MAX_TERMS, description="联办机构 (parallel approval)"
    )
    result_name: Line | None = Field(default=None, description="审批结果名称")
    service_objects: list[ServiceObject] = Field(
        default_factory=lambda: [ServiceObject.natural_person], max_length=MAX_CODES, description="服务对象"
    )
    handling_forms: list[HandlingForm] = Field(
        default_factory=lambda: [HandlingForm.window], max_length=MAX_CODES, description="办理形式"
    )
    online: bool = Field(default=False, description="是否网办")
    max_visits: int = Field(default=1, ge=0, le=9, description="到办事现场次数 (最多跑一次 = 1)")
    place: Note | None = Field(default=None, description="办理地点")
    hours: Note | None = Field(default=None, description="办理时间")
    consultation_phone: Term | None = Field(default=None, description="咨询电话")
    supervision_phone: Term | None = Field(default=None, description="监督投诉电话")
    agent_may_take: bool = Field(default=False, description="村代办员可代办")
    materials: list[MaterialSpec] = Field(
        default_factory=list, max_length=MAX_MATERIALS, description="申请材料"
    )

    @field_validator("aliases", "keywords", "co_departments")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return _clean_list(values)

    @field_validator("service_objects", "handling_forms")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))

    @model_validator(mode="after")
    def _consistent(self) -> ItemBase:
        if self.legal_days and self.promised_days > self.legal_days:
            raise ValueError("承诺时限不能超过法定时限")
        if self.fee_required and not (self.fee_standard or "").strip():
            raise ValueError("收费的事项必须填写收费标准")
        names = [m.name for m in self.materials]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"材料名称重复: {'、'.join(duplicates)}")
        return self

    @computed_field(description="办件类型 (1 即办件, 2 承诺件)")  # type: ignore[prop-decorator]
    @property
    def handling_type(self) -> HandlingType:
        return HandlingType.immediate if self.immediate else HandlingType.promised


class ItemUpsert(ItemBase):
    """The body that writes an item's draft: every attribute, as the new version will hold it."""


def labels_of(item: ItemBase) -> dict[str, str | list[str]]:
    """The Chinese labels of an item's coded fields, for people (the codes are for machines)."""
    return {
        "item_type": item.item_type.label,
        "exercising_level": item.exercising_level.label,
        "deciding_level": item.deciding_level.label,
        "implementing_body_nature": item.implementing_body_nature.label,
        "handling_type": item.handling_type.label,
        "limit_unit": item.limit_unit.label,
        "service_objects": [s.label for s in item.service_objects],
        "handling_forms": [f.label for f in item.handling_forms],
    }


class ItemRead(ItemBase):
    item_code: str
    version_no: int
    state: str = Field(description="`draft`, `published` or `retired`")
    revision: int
    published_at: datetime | None = None
    retired_at: datetime | None = None
    superseded_by: int | None = None
    labels: dict[str, str | list[str]] = Field(default_factory=dict, description="代码的中文名称")


class HandledBy(BaseModel):
    """Where a listed item is handled when this unit's hall does not serve it yet."""

    org_code: str
    name: str
    address: str | None = None
    phone: str | None = None


class ItemAtUnit(ItemRead):
    """An item as a unit's directory lists it."""

    served: bool = Field(default=True, description="The unit's own hall accepts it")
    handled_by: HandledBy | None = None
    listed_by: Literal["directory", "unit_override", "catalogue"] = "catalogue"


class ItemPage(BaseModel):
    items: list[ItemAtUnit]
    next_cursor: str | None = None


class VersionSummary(BaseModel):
    version_no: int
    state: str
    revision: int
    created_at: datetime
    created_by: str
    published_at: datetime | None = None
    retired_at: datetime | None = None
    superseded_by: int | None = None


class VersionList(BaseModel):
    item_code: str
    versions: list[VersionSummary]


class RetireIn(BaseModel):
    reason: Note | None = None


class AuditRead(BaseModel):
    entity: str
    entity_key: str
    version_no: int | None
    action: str
    field: str | None
    old_value: Any = None
    new_value: Any = None
    actor: str
    via: str
    at: datetime


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None = None


DirectoryLevel = Literal["town", "village"]
# A level's directory lists ~30-100 items (DOMAIN.md); overrides are a county's per-unit changes (a
# county has up to ~900 villages). The largest directory must still fit in one NATS message
# (tests/catalogue/test_bounds.py measures it).
MAX_ENTRIES = 1000
MAX_OVERRIDES = 4000
HandlingLevel = Literal["town", "county", "city"]


class DirectoryEntry(BaseModel):
    item_code: str = Field(pattern=ITEM_CODE_PATTERN)
    served: bool = Field(default=True, description="The level's halls accept it themselves")
    handled_at: HandlingLevel | None = Field(
        default=None, description="Where a listed but unserved item is handled; default: the level above"
    )
    handled_by_org: str | None = Field(default=None, pattern=CODE_PATTERN, description="A specific unit")


class UnitOverride(DirectoryEntry):
    """A county admin's change for one unit: add an item to it, or withhold one from it."""

    org_code: str = Field(pattern=CODE_PATTERN)
    action: Literal["add", "withhold"]
    reason: Note | None = None


class DirectoryBase(BaseModel):
    title: ShortText
    entries: list[DirectoryEntry] = Field(default_factory=list, max_length=MAX_ENTRIES)
    overrides: list[UnitOverride] = Field(default_factory=list, max_length=MAX_OVERRIDES)

    @model_validator(mode="after")
    def _no_duplicates(self) -> DirectoryBase:
        codes = [e.item_code for e in self.entries]
        if len(codes) != len(set(codes)):
            raise ValueError("an item is listed twice")
        keys = [(o.org_code, o.item_code) for o in self.overrides]
        if len(keys) != len(set(keys)):
            raise ValueError("a unit has two overrides for the same item")
        return self


class DirectoryUpsert(DirectoryBase):
    pass


class DirectoryRead(DirectoryBase):
    county_code: str
    level: DirectoryLevel
    version_no: int
    state: str
    revision: int
    published_at: datetime | None = None
    superseded_by: int | None = None


class CodeLabel(BaseModel):
    code: str
    label: str


class GuideMaterial(BaseModel):
    no: int
    name: str
    required: bool
    originals: int
    copies: int
    notes: str | None = None
    form_template: str | None = None


class GuideUnit(BaseModel):
    """Where the citizen asked about: whether its hall serves the item, and if not, who does."""

    org_code: str
    name: str
    served: bool
    handled_by: HandledBy | None = None


class Guide(BaseModel):
    """办事指南: everything a citizen needs to apply, materials as a checklist."""

    item_code: str
    version_no: int
    state: str
    name: str
    aliases: list[str]
    item_type: CodeLabel
    handling_type: CodeLabel
    exercising_level: CodeLabel
    deciding_level: CodeLabel
    basic_code: str | None
    implementation_code: str | None
    implementing_body: str | None
    implementing_body_nature: CodeLabel
    legal_basis: str | None
    acceptance_conditions: str | None
    procedure: str | None
    legal_days: int
    legal_limit_note: str | None
    promised_days: int
    promised_limit_note: str | None
    limit_unit: CodeLabel
    fee_required: bool
    fee_basis: str | None
    fee_standard: str | None
    co_departments: list[str]
    result_name: str | None
    service_objects: list[CodeLabel]
    handling_forms: list[CodeLabel]
    online: bool
    max_visits: int
    agent_may_take: bool
    place: str | None
    hours: str | None
    consultation_phone: str | None
    supervision_phone: str | None
    materials: list[GuideMaterial]
    at_unit: GuideUnit | None = None
    published_at: datetime | None = None


class ImportProblem(BaseModel):
    row: int | None = Field(description="The spreadsheet row (1 = the header), if the problem has one")
    column: str | None = None
    message: str = Field(description="e.g. 第7行: 承诺时限必须是整数个工作日")


class ImportJobRead(BaseModel):
    job_id: str
    status: str = Field(description="`queued`, `running`, `succeeded` or `failed`")
    filename: str
    file_format: str
    publish: bool = Field(description="Changed items are published at once (else left as drafts)")
    rows_total: int
    rows_done: int
    problems: list[ImportProblem] = Field(description="Every problem found; a failed import wrote nothing")
    summary: dict[str, int] = Field(description="items, created, new_versions, unchanged")
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None
    error: dict[str, Any] | None = Field(
        default=None,
        description="A failed import as an RFC 9457 problem (type import-rejected), with the problems",
    )
