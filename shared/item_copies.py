"""A service's local copy of the published catalogue, kept from ``item.published`` events.

Intake, agents and approval read items from here, so they keep working while the catalogue
service is down; they never call it on a case's path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import utcnow
from shared.divisions import in_subtree
from shared.errors import InvalidInput
from shared.events.envelope import Envelope
from shared.events.types import ItemPublishedV1, ItemRetiredV1, MaterialRef
from shared.local_copies import LocalCopies


class ItemCopy(SQLModel, table=True):
    __tablename__ = "item_copy"

    item_code: str = Field(primary_key=True, max_length=64)
    version_no: int
    name: str
    deciding_level: str = Field(max_length=16)
    agent_may_take: bool = False
    immediate: bool = False
    promised_days: int = 0
    legal_days: int = 0
    materials: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    retired: bool = False
    # The unit whose catalogue the item belongs to (a county's, a city's): only units in its subtree
    # offer it. Empty for copies made before the catalogue said (then no unit is refused).
    owner_org: str = Field(default="", max_length=12, sa_column_kwargs={"server_default": ""})
    updated_at: datetime = Field(default_factory=utcnow)

    def material_refs(self) -> list[MaterialRef]:
        return [MaterialRef.model_validate(m) for m in self.materials]

    def required_materials(self) -> list[str]:
        return [m.name for m in self.material_refs() if m.required]


# Every create reads its item: from memory (shared.local_copies), dropped when an event changes it.
_copies: LocalCopies[str, ItemCopy] = LocalCopies()


async def apply_item_published(session: AsyncSession, envelope: Envelope) -> None:
    payload = ItemPublishedV1.model_validate(envelope.data)
    _copies.drop_on_commit(session, payload.item_code)
    copy = await session.get(ItemCopy, payload.item_code)
    if copy is not None and copy.version_no > payload.version_no:
        return  # an older version arriving late never overwrites a newer one
    copy = copy or ItemCopy(
        item_code=payload.item_code,
        version_no=payload.version_no,
        name=payload.name,
        deciding_level=payload.deciding_level,
    )
    copy.version_no = payload.version_no
    copy.name = payload.name
    copy.deciding_level = payload.deciding_level
    copy.agent_may_take = payload.agent_may_take
    copy.immediate = payload.immediate
    copy.promised_days = payload.promised_days
    copy.legal_days = payload.legal_days
    copy.materials = [m.model_dump() for m in payload.materials]
    copy.retired = False
    copy.owner_org = payload.owner_org or ""
    copy.updated_at = utcnow()
    session.add(copy)


async def apply_item_retired(session: AsyncSession, envelope: Envelope) -> None:
    payload = ItemRetiredV1.model_validate(envelope.data)
    _copies.drop_on_commit(session, payload.item_code)
    copy = await session.get(ItemCopy, payload.item_code)
    if copy is not None and copy.version_no <= payload.version_no:
        copy.retired = True
        session.add(copy)


ITEM_COPY_HANDLERS = {
    "weimin.catalogue.item.published": apply_item_published,
    "weimin.catalogue.item.retired": apply_item_retired,
}


async def published_item(session: AsyncSession, item_code: str, *, allow_retired: bool = False) -> ItemCopy:
    """The item as last published; unknown (or retired, for new cases) is a 422 for the caller.

    ``allow_retired`` serves cases already received: retiring an item never strands a running case.
    """
    copy = await _copies.row(session, ItemCopy, item_code)
    if copy is None or (copy.retired and not allow_retired):
        raise InvalidInput(f"No published service item with code {item_code!r}", slug="unknown-item")
    return copy


def ensure_offered_at(item: ItemCopy, org_code: str) -> None:
    """A unit takes only items of its own county's (or city's) catalogue: 422 for another's."""
    if item.owner_org and not in_subtree(item.owner_org, org_code):
        raise InvalidInput(
            f"Item {item.item_code} ({item.name}) belongs to the catalogue of {item.owner_org}, "
            f"not offered at {org_code}",
            slug="item-not-offered-here",
        )
