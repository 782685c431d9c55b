"""The county's directories: a unit inherits its level's list, with per-unit additions and withholdings;
listed-but-unserved items name who handles them; directories are versioned and published like items."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from services.catalogue import directories
from services.catalogue.schemas import DirectoryUpsert
from shared.errors import InvalidInput, NotFound
from tests.catalogue.conftest import (
    ADMIN,
    COUNTY,
    FAR_VILLAGE,
    NEIGHBOUR,
    OTHER_TOWN,
    TOWN,
    VILLAGE,
    events,
    item,
    publish,
)


@pytest.fixture
def catalogue(engine: Engine) -> Engine:
    for code, name in [
        ("MZ-1", "最低生活保障"),
        ("MZ-2", "临时救助"),
        ("ZJ-1", "农民建房"),
        ("SC-1", "营业执照"),
    ]:
        publish(engine, code, item(name))
    return engine


def _publish_directory(tx, level: str, body: dict) -> None:  # type: ignore[no-untyped-def]
    """Write the directory's draft (based on whatever version is current) and publish it."""
    with tx() as session:
        base = None
        for current in (directories.draft, directories.published):
            try:
                base = current(session, COUNTY, level)
                break
            except NotFound:
                continue
        draft, _ = directories.write_draft(
            session,
            ADMIN,
            county_code=COUNTY,
            level=level,
            data=DirectoryUpsert.model_validate({"title": f"{level} 目录", **body}),
            if_match=directories.etag(base) if base else None,
        )
        directories.publish_draft(
            session, ADMIN, county_code=COUNTY, level=level, if_match=directories.etag(draft)
        )


def _codes(tx, org_code: str) -> list[str]:  # type: ignore[no-untyped-def]
    with tx() as session:
        return [o.version.item_code for o in directories.offers_at(session, org_code)]


def test_unit_inherits_level_directory_with_per_unit_override(catalogue: Engine, tx) -> None:
    _publish_directory(
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
    _publish_directory(tx, "town", {"entries": [{"item_code": c} for c in ["MZ-1", "MZ-2", "ZJ-1", "SC-1"]]})
    assert _codes(tx, FAR_VILLAGE) == ["MZ-1", "MZ-2"]  # inherits the village directory as it is
    assert _codes(tx, VILLAGE) == ["MZ-1", "MZ-2", "SC-1"]  # + its own addition
    assert _codes(tx, NEIGHBOUR) == ["MZ-1"]  # − its withholding
    assert _codes(tx, TOWN) == _codes(tx, OTHER_TOWN) == ["MZ-1", "MZ-2", "SC-1", "ZJ-1"]
    with tx() as session:
        added = next(o for o in directories.offers_at(session, VILLAGE) if o.version.item_code == "SC-1")
    assert added.listed_by == "unit_override" and added.served


def test_listed_item_not_served_here_names_the_unit_that_handles_it(catalogue: Engine, tx) -> None:
    _publish_directory(
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
    with tx() as session:
        offers = {o.version.item_code: o for o in directories.offers_at(session, VILLAGE)}
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


def test_directory_changes_are_versioned_and_published_like_items(catalogue: Engine, tx) -> None:
    _publish_directory(tx, "village", {"entries": [{"item_code": "MZ-1"}]})
    with tx() as session:
        v1 = directories.published(session, COUNTY, "village")
        data = DirectoryUpsert(title="village 目录", entries=[{"item_code": "MZ-1"}, {"item_code": "MZ-2"}])
        draft, _ = directories.write_draft(
            session, ADMIN, county_code=COUNTY, level="village", data=data, if_match=directories.etag(v1)
        )
    assert draft.version_no == 2
    assert _codes(tx, VILLAGE) == ["MZ-1"]  # the draft changes nothing until it is published
    with tx() as session:
        directories.publish_draft(
            session, ADMIN, county_code=COUNTY, level="village", if_match=directories.etag(draft)
        )
    assert _codes(tx, VILLAGE) == ["MZ-1", "MZ-2"]
    with tx() as session:
        old = directories.read(directories.published(session, COUNTY, "village"))
    assert old.version_no == 2
    published = events(catalogue, "directory.published")
    assert [e["data"]["version_no"] for e in published] == [1, 2]
    assert published[-1]["data"]["entries"][1] == {
        "item_code": "MZ-2",
        "served": True,
        "handled_at": None,
        "handled_by_org": None,
    }
    assert published[-1]["data"]["county_code"] == COUNTY and published[-1]["data"]["level"] == "village"


def test_directory_cannot_list_an_unpublished_item_or_a_unit_of_another_level(catalogue: Engine, tx) -> None:
    with tx() as session, pytest.raises(InvalidInput, match="未知的事项编码 NOPE"):
        directories.write_draft(
            session,
            ADMIN,
            county_code=COUNTY,
            level="village",
            data=DirectoryUpsert(title="t", entries=[{"item_code": "NOPE"}]),
            if_match=None,
        )
    with tx() as session, pytest.raises(InvalidInput, match=TOWN):
        directories.write_draft(
            session,
            ADMIN,
            county_code=COUNTY,
            level="village",
            data=DirectoryUpsert(
                title="t", overrides=[{"org_code": TOWN, "item_code": "MZ-1", "action": "withhold"}]
            ),
            if_match=None,
        )


def test_a_retired_item_drops_out_of_every_unit(catalogue: Engine, tx) -> None:
    from services.catalogue import service

    _publish_directory(tx, "village", {"entries": [{"item_code": "MZ-1"}, {"item_code": "MZ-2"}]})
    with tx() as session:
        live = service.current_version(session, "MZ-2")
        service.retire_item(session, ADMIN, item_code="MZ-2", if_match=service.etag(live), reason=None)
    assert _codes(tx, VILLAGE) == ["MZ-1"]


def test_county_hall_offers_every_item_it_maintains(catalogue: Engine, tx) -> None:
    assert _codes(tx, COUNTY) == ["MZ-1", "MZ-2", "SC-1", "ZJ-1"]
