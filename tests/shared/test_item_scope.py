"""A unit takes only items of its own catalogue (its county's, or its city's): an agent or a window of
another county cannot open a case on 临邑县's items, even where no directory has been published."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import InvalidInput
from tests.case_fixtures import (
    CITY,
    COUNTY,
    DIBAO,
    FOREIGN_TOWN,
    FOREIGN_VILLAGE,
    TOWN,
    VILLAGE,
    Network,
    agent,
    clerk,
    required,
)

LINYI_DIBAO = DIBAO.model_copy(update={"owner_org": COUNTY})
CITY_OWNED = DIBAO.model_copy(update={"item_code": "DZ-MZ-009", "owner_org": CITY})


async def test_a_unit_takes_only_items_of_its_own_catalogue(tmp_path: Path) -> None:
    net = await Network.create(tmp_path, items=(LINYI_DIBAO, CITY_OWNED))
    try:
        # Inside 临邑县: the county's item and the city's item are both offered.
        assert await net.collect(LINYI_DIBAO, required(LINYI_DIBAO), by=agent(VILLAGE))
        assert await net.collect(CITY_OWNED, required(CITY_OWNED), by=agent(VILLAGE))
        assert await net.walk_in(LINYI_DIBAO, required(LINYI_DIBAO), by=clerk(TOWN))
        # 嵩明县 (another province's county) has no directory at all: still not its item.
        for act in (
            net.collect(LINYI_DIBAO, required(LINYI_DIBAO), by=agent(FOREIGN_VILLAGE)),
            net.walk_in(LINYI_DIBAO, required(LINYI_DIBAO), by=clerk(FOREIGN_TOWN)),
            net.collect(CITY_OWNED, required(CITY_OWNED), by=agent(FOREIGN_VILLAGE)),
        ):
            with pytest.raises(InvalidInput) as refused:
                await act
            assert refused.value.slug == "item-not-offered-here"
    finally:
        await net.close()
