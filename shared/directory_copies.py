"""A service's local copy of the county's published directories, kept from ``directory.published``.

The agents service checks a village's directory (《村(社区)为民服务事项指导目录》) before a proxy
agent collects a matter, without calling the catalogue (which may be down).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import utcnow
from shared.divisions import Level, ancestor_at, level_of
from shared.events.envelope import Envelope
from shared.events.types import DirectoryPublishedV1
from shared.local_copies import LocalCopies


class DirectoryCopy(SQLModel, table=True):
    __tablename__ = "directory_copy"

    county_code: str = Field(primary_key=True, max_length=12)
    level: str = Field(primary_key=True, max_length=16)
    version_no: int
    item_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # [{"org_code", "item_code", "action": "add" | "withhold"}]
    overrides: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


# Every collect checks its village's directory: from memory, dropped when a new one is applied.
_copies: LocalCopies[tuple[str, str], DirectoryCopy] = LocalCopies()


async def apply_directory_published(session: AsyncSession, envelope: Envelope) -> None:
    payload = DirectoryPublishedV1.model_validate(envelope.data)
    _copies.drop_on_commit(session, (payload.county_code, payload.level))
    copy = await session.get(DirectoryCopy, (payload.county_code, payload.level))
    if copy is not None and copy.version_no >= payload.version_no:
        return  # a late or repeated older version never replaces a newer one
    copy = copy or DirectoryCopy(county_code=payload.county_code, level=payload.level, version_no=0)
    copy.version_no = payload.version_no
    copy.item_codes = sorted({e.item_code for e in payload.entries})
    copy.overrides = [
        {"org_code": o.org_code, "item_code": o.item_code, "action": o.action} for o in payload.overrides
    ]
    copy.updated_at = utcnow()
    session.add(copy)


DIRECTORY_COPY_HANDLERS = {"weimin.catalogue.directory.published": apply_directory_published}


async def listed_at(session: AsyncSession, org_code: str, item_code: str) -> bool | None:
    """Whether the unit's effective directory lists the item: its level's list ± its own overrides.

    None when the county has published no directory for that level yet (nothing to check against).
    """
    level = level_of(org_code)
    copy = await _copies.row(session, DirectoryCopy, (ancestor_at(org_code, Level.county), level.value))
    if copy is None:
        return None
    listed = item_code in copy.item_codes
    for override in copy.overrides:
        if override["org_code"] == org_code and override["item_code"] == item_code:
            listed = override["action"] == "add"
    return listed
