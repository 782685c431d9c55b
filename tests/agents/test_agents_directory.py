"""A village agent takes what the county's village directory (《村(社区)为民服务事项指导目录》) lists for
that village: the level's list, plus the items added for it, less those withheld from it. The agents
service checks its own copy, kept from ``directory.published`` events, not the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import InvalidInput
from shared.events import Envelope
from shared.events.types import DirectoryEntryRef, DirectoryPublishedV1, UnitOverrideRef
from tests.case_fixtures import COUNTY, DIBAO, NEIGHBOUR_VILLAGE, TEKUN, VILLAGE, Network, agent, required


def directory(version: int, items: list[str], overrides: list[UnitOverrideRef] | None = None) -> Envelope:
    payload = DirectoryPublishedV1(
        county_code=COUNTY,
        level="village",
        version_no=version,
        title="临邑县村(社区)为民服务事项指导目录",
        entries=[DirectoryEntryRef(item_code=code) for code in items],
        overrides=overrides or [],
        published_at=datetime.now(UTC),
    )
    return Envelope(
        source="catalogue",
        type="directory.published",
        subject=f"{COUNTY}/village",
        data=payload.model_dump(mode="json"),
    )


async def test_agent_collects_only_items_the_village_directory_lists(tmp_path: Path) -> None:
    net = await Network.create(tmp_path)
    await net.broadcast(directory(1, [TEKUN.item_code]))
    assert await net.collect(TEKUN, required(TEKUN))
    with pytest.raises(InvalidInput, match="directory") as refused:
        await net.collect(DIBAO, required(DIBAO))
    assert refused.value.slug == "item-not-in-directory"


async def test_unit_override_adds_or_withholds_an_item_for_one_village_only(tmp_path: Path) -> None:
    net = await Network.create(tmp_path)
    await net.broadcast(
        directory(
            1,
            [TEKUN.item_code],
            overrides=[
                UnitOverrideRef(org_code=VILLAGE, item_code=TEKUN.item_code, action="withhold"),
                UnitOverrideRef(org_code=VILLAGE, item_code=DIBAO.item_code, action="add"),
            ],
        )
    )
    with pytest.raises(InvalidInput):
        await net.collect(TEKUN, required(TEKUN))
    assert await net.collect(DIBAO, required(DIBAO))
    assert await net.collect(TEKUN, required(TEKUN), by=agent(NEIGHBOUR_VILLAGE)), (
        "the neighbour still has it"
    )
    with pytest.raises(InvalidInput):
        await net.collect(DIBAO, required(DIBAO), by=agent(NEIGHBOUR_VILLAGE))


async def test_a_newer_directory_replaces_the_copy_and_an_older_one_arriving_late_does_not(
    tmp_path: Path,
) -> None:
    net = await Network.create(tmp_path)
    await net.broadcast(directory(2, [DIBAO.item_code]))
    await net.broadcast(directory(1, [TEKUN.item_code]))
    assert await net.collect(DIBAO, required(DIBAO))
    with pytest.raises(InvalidInput):
        await net.collect(TEKUN, required(TEKUN))


async def test_without_a_published_directory_agents_are_not_blocked(tmp_path: Path) -> None:
    net = await Network.create(tmp_path)
    assert await net.collect(TEKUN, required(TEKUN))
