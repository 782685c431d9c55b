"""Catalogue tables: the org tree (区划 + halls), service items and their versions, the county's
directories, the audit trail and import jobs.

A published version never changes: ``ItemVersion`` and ``DirectoryVersion`` rows are written while
they are drafts and only change state afterwards; ``guard_published_content`` enforces it for any
code path that would try.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, event
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import get_history
from sqlmodel import Field, SQLModel

from shared.clock import utcnow


class VersionState(StrEnum):
    draft = "draft"
    published = "published"
    retired = "retired"


class Org(SQLModel, table=True):
    __tablename__ = "org"

    code: str = Field(primary_key=True, max_length=12)
    name: str
    level: str = Field(max_length=16, index=True)
    parent_code: str | None = Field(default=None, max_length=12, index=True)
    address: str | None = None
    phone: str | None = None


class Item(SQLModel, table=True):
    """One service item (事项): which of its versions is live and which is being drafted."""

    __tablename__ = "catalogue_item"

    item_code: str = Field(primary_key=True, max_length=64)
    owner_org: str = Field(max_length=12, index=True, description="The unit whose admins maintain it")
    state: str = Field(default=VersionState.draft, max_length=16, index=True)
    published_version: int | None = None
    draft_version: int | None = None
    name: str = Field(description="The name of the live version (of the draft before the first publish)")
    search_text: str = Field(default="", description="Name, aliases and keywords of the live version")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ItemVersion(SQLModel, table=True):
    """One version of an item: draft → published → retired. ``content`` is the item's attributes."""

    __tablename__ = "catalogue_item_version"

    item_code: str = Field(primary_key=True, max_length=64, foreign_key="catalogue_item.item_code")
    version_no: int = Field(primary_key=True)
    state: str = Field(default=VersionState.draft, max_length=16)
    revision: int = Field(default=1, description="Draft edits; part of the ETag")
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=100)
    published_at: datetime | None = None
    published_by: str | None = Field(default=None, max_length=100)
    retired_at: datetime | None = None
    retired_by: str | None = Field(default=None, max_length=100)
    superseded_by: int | None = None


class DirectoryVersion(SQLModel, table=True):
    """One version of a county's directory for one level (《乡镇/村(社区)为民服务事项目录》)."""

    __tablename__ = "catalogue_directory_version"

    county_code: str = Field(primary_key=True, max_length=12)
    level: str = Field(primary_key=True, max_length=16)
    version_no: int = Field(primary_key=True)
    state: str = Field(default=VersionState.draft, max_length=16, index=True)
    revision: int = 1
    title: str
    entries: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    overrides: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=100)
    published_at: datetime | None = None
    published_by: str | None = Field(default=None, max_length=100)
    retired_at: datetime | None = None
    superseded_by: int | None = None


class AuditRecord(SQLModel, table=True):
    """Who changed what, when: one row per changed field (old and new as JSON text)."""

    __tablename__ = "catalogue_audit"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16, description="`item`, `directory` or `org`")
    entity_key: str = Field(max_length=80, index=True)
    version_no: int | None = None
    action: str = Field(max_length=32)
    field: str | None = Field(default=None, max_length=64)
    old_value: str | None = None
    new_value: str | None = None
    actor: str = Field(max_length=100)
    via: str = Field(default="api", max_length=64, description="`api` or `import <job id>`")
    at: datetime = Field(default_factory=utcnow, index=True)


class ImportStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ImportJob(SQLModel, table=True):
    """A spreadsheet import: its file, progress, and the report (kept so a restart loses nothing)."""

    __tablename__ = "catalogue_import_job"

    job_id: str = Field(primary_key=True, max_length=32)
    status: str = Field(default=ImportStatus.queued, max_length=16)
    filename: str = Field(max_length=255)
    file_format: str = Field(max_length=8)
    publish: bool = True
    file: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    rows_total: int = 0
    rows_done: int = 0
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=100)
    owner_org: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Generation(SQLModel, table=True):
    """One row: a counter bumped in the same transaction as every change to what the public reads
    (items, their versions, directories, units), so each replica's in-memory cache of published
    answers can tell, with one cheap read, whether anything changed (``services.catalogue.generation``)."""

    __tablename__ = "catalogue_generation"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)


TABLES = [Org, Item, ItemVersion, DirectoryVersion, AuditRecord, ImportJob, Generation]


class ImmutableVersion(RuntimeError):
    """A published or retired version's content was about to change: a bug, never a user error."""


_CONTENT: dict[type, tuple[str, ...]] = {
    ItemVersion: ("content", "content_hash", "version_no", "item_code"),
    DirectoryVersion: ("title", "entries", "overrides", "content_hash", "version_no"),
}


def _guard(mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    state_history = get_history(target, "state")
    was = state_history.deleted[0] if state_history.deleted else target.state
    if was == VersionState.draft:
        return
    changed = [name for name in _CONTENT[type(target)] if get_history(target, name).has_changes()]
    if changed:
        raise ImmutableVersion(f"{type(target).__name__} is {was}; its {', '.join(changed)} cannot change")


for _model in _CONTENT:
    event.listen(_model, "before_update", _guard)
