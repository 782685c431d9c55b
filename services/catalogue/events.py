"""The catalogue's event boundary. It publishes ``item.published``, ``item.retired`` and
``directory.published``, one typed helper each, written to the outbox in the caller's transaction;
it consumes nothing (``SUBSCRIPTION`` is None).

Each payload is complete enough that intake, agents and approval keep their own copy and never call
the catalogue on a case's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import EventType, emit
from shared.events.consumer import Subscription
from shared.events.types import (
    DirectoryEntryRef,
    DirectoryPublishedV1,
    ItemPublishedV1,
    ItemRetiredV1,
    MaterialRef,
    UnitOverrideRef,
)

if TYPE_CHECKING:
    from services.catalogue.models import DirectoryVersion, ItemVersion

SOURCE = "catalogue"

# The catalogue is where the catalogue's facts start: it listens to no other service.
SUBSCRIPTION: Subscription | None = None


def item_published_payload(
    version: ItemVersion, *, owner_org: str, supersedes: int | None
) -> ItemPublishedV1:
    content = version.content
    return ItemPublishedV1(
        item_code=version.item_code,
        version_no=version.version_no,
        name=content["name"],
        deciding_level=content["deciding_level"],
        agent_may_take=content["agent_may_take"],
        immediate=content["immediate"],
        promised_days=content["promised_days"],
        legal_days=content["legal_days"],
        materials=[MaterialRef.model_validate(m) for m in content["materials"]],
        item_type=content["item_type"],
        basic_code=content.get("basic_code"),
        implementation_code=content.get("implementation_code"),
        exercising_level=content.get("exercising_level"),
        implementing_body=content.get("implementing_body"),
        owner_org=owner_org or None,
        fee_required=content["fee_required"],
        co_departments=content["co_departments"],
        result_name=content.get("result_name"),
        max_visits=content.get("max_visits"),
        supersedes=supersedes,
        published_at=version.published_at,
    )


async def item_published(
    session: AsyncSession, version: ItemVersion, *, owner_org: str, supersedes: int | None
) -> None:
    emit(
        session,
        source=SOURCE,
        type=EventType.item_published,
        subject=version.item_code,
        data=item_published_payload(version, owner_org=owner_org, supersedes=supersedes),
    )


async def item_retired(session: AsyncSession, version: ItemVersion, *, reason: str | None) -> None:
    emit(
        session,
        source=SOURCE,
        type=EventType.item_retired,
        subject=version.item_code,
        data=ItemRetiredV1(
            item_code=version.item_code,
            version_no=version.version_no,
            name=version.content["name"],
            reason=reason,
            retired_at=version.retired_at,
        ),
    )


async def directory_published(session: AsyncSession, directory: DirectoryVersion) -> None:
    assert directory.published_at is not None
    emit(
        session,
        source=SOURCE,
        type=EventType.directory_published,
        subject=f"{directory.county_code}-{directory.level}",
        data=DirectoryPublishedV1(
            county_code=directory.county_code,
            level=directory.level,
            version_no=directory.version_no,
            title=directory.title,
            entries=[DirectoryEntryRef.model_validate(e) for e in directory.entries],
            overrides=[UnitOverrideRef.model_validate(o) for o in directory.overrides],
            published_at=directory.published_at,
        ),
    )
