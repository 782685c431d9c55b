"""API schemas of the catalogue service."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.divisions import CODE_PATTERN


class OrgBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    address: str | None = None
    phone: str | None = None


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
    name: str = Field(min_length=1, max_length=200)
    required: bool = True


class ItemBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    item_type: str = Field(
        default="20", description="GB/T 39046 item type code, e.g. 01 行政许可, 20 公共服务"
    )
    deciding_level: str = Field(pattern="^(city|county|town|village)$")
    agent_may_take: bool = False
    immediate: bool = Field(default=False, description="即办件 (decided on the spot) rather than 承诺件")
    promised_days: int = Field(default=0, ge=0, description="承诺时限, working days")
    legal_days: int = Field(default=0, ge=0, description="法定时限, working days")
    offered_at: list[str] = Field(default_factory=list, description="Levels whose halls offer the item")
    materials: list[MaterialSpec] = Field(default_factory=list)


class ItemUpsert(ItemBase):
    pass


class ItemRead(ItemBase):
    item_code: str
    version_no: int


class ItemPage(BaseModel):
    items: list[ItemRead]
    next_cursor: str | None = None
