"""Chinese search over names, aliases and keywords (GET /api/v1/catalogue/items?q=)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalogue import search
from services.catalogue.directories import find_offers
from tests.catalogue.conftest import item, publish


async def _search(tx, q: str, org_code: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    async with tx() as session:
        return [o.version.content["name"] for o in await find_offers(session, org_code=org_code, q=q)]


async def test_search_dibao_finds_minimum_living_allowance(engine: AsyncEngine, tx) -> None:
    await publish(engine, "MZ-1", item("最低生活保障"))  # no alias: character order alone finds it
    await publish(engine, "MZ-2", item("临时救助"))
    await publish(engine, "SB-1", item("城乡居民基本养老保险参保登记"))
    assert await _search(tx, "低保") == ["最低生活保障"]


async def test_search_uses_aliases_and_keywords(engine: AsyncEngine, tx) -> None:
    await publish(engine, "MZ-2", item("特困人员救助供养认定", aliases=["五保"], keywords=["特困供养"]))
    await publish(engine, "SC-1", item("个体工商户设立登记", aliases=["营业执照"], keywords=["开店"]))
    assert await _search(tx, "五保") == ["特困人员救助供养认定"]
    assert await _search(tx, "开店") == ["个体工商户设立登记"]
    assert await _search(tx, "我要办营业执照") == ["个体工商户设立登记"]  # the query says more than the alias


def test_search_ranks_real_matches_above_character_order_matches() -> None:
    ranked = search.rank(
        "救助",
        [
            ("A", "特困人员救助供养认定"),
            ("B", "临时救助"),
            ("C", "残疾人证申领\n救急难"),
            ("D", "城乡居民基本养老保险参保登记"),
        ],
    )
    assert ranked[:2] == ["B", "A"]  # ends/contains in the name first
    assert "D" not in ranked  # no 救…助 within reach: not a match


def test_search_ignores_width_case_and_punctuation() -> None:
    assert search.score("ＬＹ 低保", "最低生活保障(低保)认定\nly") > 0
    assert search.score("(低保)", "最低生活保障") > 0
    assert search.score("", "任何事项") == 0


async def test_every_query_term_must_match(engine: AsyncEngine, tx) -> None:
    await publish(engine, "MZ-1", item("最低生活保障"))
    await publish(engine, "MZ-2", item("临时救助"))
    assert await _search(tx, "低保 救助") == []
    assert await _search(tx, "最低 保障") == ["最低生活保障"]
