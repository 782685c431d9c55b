"""Catalogue tables: the org tree (区划 + halls) and the service items (事项)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.events.outbox import utcnow


class Org(SQLModel, table=True):
    __tablename__ = "org"

    code: str = Field(primary_key=True, max_length=12)
    name: str
    level: str = Field(max_length=16, index=True)
    parent_code: str | None = Field(default=None, max_length=12, index=True)
    address: str | None = None
    phone: str | None = None


class Item(SQLModel, table=True):
    __tablename__ = "catalogue_item"

    item_code: str = Field(primary_key=True, max_length=64)
    version_no: int = 1
    name: str
    item_type: str = Field(default="20", max_length=4)
    deciding_level: str = Field(max_length=16)
    agent_may_take: bool = False
    immediate: bool = False
    promised_days: int = 0
    legal_days: int = 0
    offered_at: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    materials: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published_at: datetime = Field(default_factory=utcnow)
