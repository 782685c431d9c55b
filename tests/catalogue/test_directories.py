"""The county's directories: a unit inherits its level's list, with per-unit additions and withholdings;
listed-but-unserved items name who handles them; directories are versioned and published like items."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalogue import directories
from services.catalogue.models import DirectoryVersion
from services.catalogue.preconditions import BasedOn
from services.catalogue.schemas import DirectoryUpsert
from shared.auth import Principal
from shared.errors import Forbidden, InvalidInput, NotFound
from tests.catalogue.conftest import (
    ADMIN,
    CLERK,
    COUNTY,
    FAR_VILLAGE,
    FOREIGN_ADMIN,
    NEIGHBOUR,
    OTHER_TOWN,
    TOWN,
    TOWN_ADMIN,
    VILLAGE,
    events,
    item,
    publish,
)


@pytest.fixture
async def catalogue(engine: AsyncEngine) -> AsyncEngine:
    for code, name in [
        ("MZ-1", "最低生活保障"),
        ("MZ-2", "临时救助"),
        ("ZJ-1", "农民建房"),
        ("SC-1", "营业执照"),
    ]:
        await publish(engine, code, item(name))
    return engine


def based_on(directory: DirectoryVersion) -> BasedOn:
    return BasedOn.tag(directories.etag(directory))


async def _publish_directory(tx, level: str, body: dict) -> None:  # type: ignore[no-untyped-def]
    """Write the directory's draft (based on whatever version is current) and publish it."""
    async with tx() as session:
        base = None
        for current in (directories.draft, directories.published):
            try:
                base = await current(session, COUNTY, level)
                break
            except NotFound:
                continue
        draft, _ = await directories.write_draft(
            session,
            ADMIN,
            county_code=COUNTY,
            level=level,
            data=DirectoryUpsert.model_validate({"title": f"{level} 目录", **body}),
            based_on=based_on(base) if base else None,
        )
        await directories.publish_draft(
            session, ADMIN, county_code=COUNTY, level=level, based_on=based_on(draft)
        )


async def _codes(tx, org_code: str) -> list[str]:  # type: ignore[no-untyped-def]
    async with tx() as session:
        return [o.version.item_code for o in await directories.offers_at(session, org_code)]


async def test_unit_inherits_level_directory_with_per_unit_override(catalogue: AsyncEngine, tx) -> None:
    await _publish_directory(
        tx,
        "village",
        {
            "entries": [{"item_code": "MZ-1"}, {"item_code": "MZ-2"}],
            "overrides": [
                {"org_code": VILLAGE, "item_code": "SC-1", "action": "add"},
                {"org_code": NEIGHBOUR, "item_code": "MZ-2", "action": "withhold", "reason": "由镇统一办理"},
            ],
        },
    )
    await _publish_directory(
        tx, "town", {"entries": [{"item_code": c} for c in ["MZ-1", "MZ-2", "ZJ-1", "SC-1"]]}
    )
    assert await _codes(tx, FAR_VILLAGE) == ["MZ-1", "MZ-2"]  # inherits the village directory as it is
    assert await _codes(tx, VILLAGE) == ["MZ-1", "MZ-2", "SC-1"]  # + its own addition
    assert await _codes(tx, NEIGHBOUR) == ["MZ-1"]  # − its withholding
    assert await _codes(tx, TOWN) == await _codes(tx, OTHER_TOWN) == ["MZ-1", "MZ-2", "SC-1", "ZJ-1"]
    async with tx() as session:
        offers = await directories.offers_at(session, VILLAGE)
    added = next(o for o in offers if o.version.item_code == "SC-1")
    assert added.listed_by == "unit_override" and added.served


async def test_listed_item_not_served_here_names_the_unit_that_handles_it(catalogue: AsyncEngine, tx) -> None:
    await _publish_directory(
        tx,
        "village",
        {
            "entries": [
                {"item_code": "MZ-1"},
                {"item_code": "ZJ-1", "served": False},
                {"item_code": "SC-1", "served": False, "handled_at": "county"},
            ]
        },
    )
    async with tx() as session:
        offers = {o.version.item_code: o for o in await directories.offers_at(session, VILLAGE)}
    assert offers["MZ-1"].served and offers["MZ-1"].handled_by is None
    town = offers["ZJ-1"].handled_by
    assert town is not None and (town.org_code, town.name, town.address, town.phone) == (
        TOWN,
        "临邑镇",
        "临邑镇为民服务中心",
        "0534-4210100",
    )
    county = offers["SC-1"].handled_by
    assert county is not None and county.org_code == COUNTY and county.phone == "0534-4212345"


async def test_directory_changes_are_versioned_and_published_like_items(catalogue: AsyncEngine, tx) -> None:
    await _publish_directory(tx, "village", {"entries": [{"item_code": "MZ-1"}]})
    async with tx() as session:
        v1 = await directories.published(session, COUNTY, "village")
        data = DirectoryUpsert(title="village 目录", entries=[{"item_code": "MZ-1"}, {"item_code": "MZ-2"}])
        draft, _ = await directories.write_draft(
            session, ADMIN, county_code=COUNTY, level="village", data=data, based_on=based_on(v1)
        )
    assert draft.version_no == 2
    assert await _codes(tx, VILLAGE) == ["MZ-1"]  # the draft changes nothing until it is published
    async with tx() as session:
        await directories.publish_draft(
            session, ADMIN, county_code=COUNTY, level="village", based_on=based_on(draft)
        )
    assert await _codes(tx, VILLAGE) == ["MZ-1", "MZ-2"]
    async with tx() as session:
        old = directories.read(await directories.published(session, COUNTY, "village"))
    assert old.version_no == 2
    published = await events(catalogue, "directory.published")
    assert [e["data"]["version_no"] for e in published] == [1, 2]
    assert published[-1]["data"]["entries"][1] == {
        "item_code": "MZ-2",
        "served": True,
        "handled_at": None,
        "handled_by_org": None,
    }
    assert published[-1]["data"]["county_code"] == COUNTY and published[-1]["data"]["level"] == "village"


async def test_directory_cannot_list_an_unpublished_item_or_a_unit_of_another_level(
    catalogue: AsyncEngine, tx
) -> None:
    with pytest.raises(InvalidInput, match="未知的事项编码 NOPE"):
        async with tx() as session:
            await directories.write_draft(
                session,
                ADMIN,
                county_code=COUNTY,
                level="village",
                data=DirectoryUpsert(title="t", entries=[{"item_code": "NOPE"}]),
                based_on=None,
            )
    with pytest.raises(InvalidInput, match=TOWN):
        async with tx() as session:
            await directories.write_draft(
                session,
                ADMIN,
                county_code=COUNTY,
                level="village",
                data=DirectoryUpsert(
                    title="t", overrides=[{"org_code": TOWN, "item_code": "MZ-1", "action": "withhold"}]
                ),
                based_on=None,
            )


async def test_a_retired_item_drops_out_of_every_unit(catalogue: AsyncEngine, tx) -> None:
    from services.catalogue import service

    await _publish_directory(tx, "village", {"entries": [{"item_code": "MZ-1"}, {"item_code": "MZ-2"}]})
    async with tx() as session:
        live = await service.current_version(session, "MZ-2")
        await service.retire_item(
            session, ADMIN, item_code="MZ-2", based_on=BasedOn.tag(service.etag(live)), reason=None
        )
    assert await _codes(tx, VILLAGE) == ["MZ-1"]


async def test_county_hall_offers_every_item_it_maintains(catalogue: AsyncEngine, tx) -> None:
    assert await _codes(tx, COUNTY) == ["MZ-1", "MZ-2", "SC-1", "ZJ-1"]


@pytest.mark.parametrize(
    ("who", "slug"),
    [(FOREIGN_ADMIN, "outside-jurisdiction"), (TOWN_ADMIN, "outside-jurisdiction"), (CLERK, "role-required")],
    ids=["another-county-admin", "admin-of-a-town-below", "clerk"],
)
async def test_only_an_admin_of_the_county_reads_or_writes_its_directory_drafts(
    catalogue: AsyncEngine, tx, who: Principal, slug: str
) -> None:
    await _publish_directory(tx, "village", {"entries": [{"item_code": "MZ-1"}]})
    async with tx() as session:
        v1 = await directories.published(session, COUNTY, "village")
        draft, _ = await directories.write_draft(
            session,
            ADMIN,
            county_code=COUNTY,
            level="village",
            data=DirectoryUpsert(title="改", entries=[{"item_code": "MZ-2"}]),
            based_on=based_on(v1),
        )
    attempts = [
        lambda session: directories.read_draft(session, who, county_code=COUNTY, level="village"),
        lambda session: directories.audit_trail(
            session, who, county_code=COUNTY, level="village", after=None, limit=10
        ),
        lambda session: directories.write_draft(
            session,
            who,
            county_code=COUNTY,
            level="village",
            data=DirectoryUpsert(title="篡改", entries=[]),
            based_on=based_on(draft),
        ),
        lambda session: directories.publish_draft(
            session, who, county_code=COUNTY, level="village", based_on=based_on(draft)
        ),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden) as refused:
            async with tx() as session:
                await attempt(session)
        assert refused.value.slug == slug
    async with tx() as session:
        assert (await directories.draft(session, COUNTY, "village")).title == "改"
        assert (await directories.published(session, COUNTY, "village")).version_no == 1


async def test_a_units_list_pages_by_code_and_filters_in_the_database(catalogue: AsyncEngine, tx) -> None:
    await publish(catalogue, "JD-1", item("居住证", deciding_level="county", agent_may_take=False))
    await publish(catalogue, "JD-2", item("高龄津贴", item_type="05"))
    entries = [{"item_code": c} for c in ["JD-1", "JD-2", "MZ-1", "MZ-2", "SC-1", "ZJ-1"]]
    await _publish_directory(tx, "village", {"entries": entries})

    async def every_page(**filters: object) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            async with tx() as session:
                page = await directories.offers_page(
                    session,
                    org_code=VILLAGE,
                    q=None,
                    after=after,
                    limit=2,
                    **filters,  # type: ignore[arg-type]
                )
            seen += [o.version.item_code for o in page.items]
            if page.next_cursor is None:
                return seen
            after = page.next_cursor

    assert await every_page() == ["JD-1", "JD-2", "MZ-1", "MZ-2", "SC-1", "ZJ-1"]
    assert await every_page(deciding_level="county") == ["JD-1"]
    assert await every_page(agent_may_take=False) == ["JD-1"]
    assert await every_page(item_type="05") == ["JD-2"]
    assert await every_page(agent_may_take=True, deciding_level="town") == [
        "JD-2",
        "MZ-1",
        "MZ-2",
        "SC-1",
        "ZJ-1",
    ]
