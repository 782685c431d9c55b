"""Items and their versions: draft → published → retired, never an edit in place, If-Match, audit,
and who may read drafts and write."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue import audit, service
from services.catalogue.directories import Offer, find_offers
from services.catalogue.models import ImmutableVersion, ItemVersion, VersionState
from services.catalogue.preconditions import ANY_VERSION, BasedOn, PreconditionRequired
from services.catalogue.schemas import MaterialSpec, OrgUpsert
from shared.auth import Principal
from shared.errors import Forbidden, NotFound, PreconditionFailed
from tests.catalogue.conftest import (
    ADMIN,
    CLERK,
    COUNTY,
    FOREIGN_ADMIN,
    TOWN,
    TOWN_ADMIN,
    events,
    item,
    publish,
)


def based_on(version: ItemVersion) -> BasedOn:
    """What a client that read ``version`` sends (its ETag as If-Match)."""
    return BasedOn.tag(service.etag(version))


async def _draft_and_publish(
    session: AsyncSession, code: str, name: str, base: BasedOn | None
) -> ItemVersion:
    draft, _ = await service.write_draft(session, ADMIN, item_code=code, data=item(name), based_on=base)
    return await service.publish_draft(session, ADMIN, item_code=code, based_on=based_on(draft))


async def service_offers(session: AsyncSession) -> list[Offer]:
    return await find_offers(session, org_code=None, q=None)


async def test_new_item_is_a_draft_nobody_sees_until_published(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        draft, created = await service.write_draft(
            session, ADMIN, item_code="LY-1", data=item(), based_on=None
        )
    assert created and draft.version_no == 1 and draft.state == VersionState.draft
    with pytest.raises(NotFound):
        async with tx() as session:
            await service.current_version(session, "LY-1")
    assert await events(engine) == []
    async with tx() as session:
        live = await service.publish_draft(session, ADMIN, item_code="LY-1", based_on=based_on(draft))
    assert live.state == VersionState.published
    assert [e["data"]["version_no"] for e in await events(engine, "item.published")] == [1]


async def test_published_version_never_changes(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        v1 = await _draft_and_publish(session, "LY-1", "临时救助", None)
        before = dict(v1.content)
    async with tx() as session:
        draft, _ = await service.write_draft(
            session,
            ADMIN,
            item_code="LY-1",
            data=item("临时救助(急难型)", promised_days=3),
            based_on=based_on(v1),
        )
        await service.publish_draft(session, ADMIN, item_code="LY-1", based_on=based_on(draft))
    async with AsyncSession(engine) as session:
        old = await service.get_version(session, "LY-1", 1)
        assert old.content == before and old.state == VersionState.retired and old.superseded_by == 2
        # Not even a code path that forgets the rule can change it: the table refuses.
        old.content = {**old.content, "name": "改名"}
        session.add(old)
        with pytest.raises(ImmutableVersion):
            await session.flush()


async def test_editing_makes_a_draft_while_the_published_version_stays_live(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        v1 = await _draft_and_publish(session, "LY-1", "临时救助", None)
    async with tx() as session:
        draft, created = await service.write_draft(
            session, ADMIN, item_code="LY-1", data=item("临时救助(新)"), based_on=based_on(v1)
        )
    assert created and draft.version_no == 2
    async with tx() as session:
        live = await service.current_version(session, "LY-1")
        assert live.version_no == 1 and live.content["name"] == "临时救助"
        assert {o.version.item_code: o.version.version_no for o in await service_offers(session)} == {
            "LY-1": 1
        }
    assert len(await events(engine, "item.published")) == 1


async def test_publishing_the_draft_supersedes_the_live_version(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        v1 = await _draft_and_publish(session, "LY-1", "临时救助", None)
        v2 = await _draft_and_publish(session, "LY-1", "临时救助(新)", based_on(v1))
    assert v2.version_no == 2
    async with tx() as session:
        assert (await service.current_version(session, "LY-1")).version_no == 2
        assert [v.state for v in await service.versions(session, "LY-1", include_drafts=True)] == [
            "retired",
            "published",
        ]
    published = await events(engine, "item.published")
    assert [(e["data"]["version_no"], e["data"]["supersedes"]) for e in published] == [(1, None), (2, 1)]


async def test_stale_if_match_is_412_and_a_missing_one_428(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        draft, _ = await service.write_draft(session, ADMIN, item_code="LY-1", data=item(), based_on=None)
        stale = based_on(draft)
    async with tx() as session:
        await service.write_draft(session, ADMIN, item_code="LY-1", data=item("甲"), based_on=stale)
    with pytest.raises(PreconditionFailed):
        async with tx() as session:
            await service.write_draft(session, ADMIN, item_code="LY-1", data=item("乙"), based_on=stale)
    with pytest.raises(PreconditionRequired):
        async with tx() as session:
            await service.write_draft(session, ADMIN, item_code="LY-1", data=item("乙"), based_on=None)
    with pytest.raises(PreconditionFailed):
        async with tx() as session:
            await service.publish_draft(session, ADMIN, item_code="LY-1", based_on=stale)
    async with tx() as session:
        # the first writer's, not lost
        assert (await service.draft_of(session, "LY-1")).content["name"] == "甲"


async def test_a_stale_version_is_refused_naming_the_current_one(tx) -> None:
    async with tx() as session:
        draft, _ = await service.write_draft(session, ADMIN, item_code="LY-1", data=item(), based_on=None)
        stale = based_on(draft)
        edited, _ = await service.write_draft(
            session, ADMIN, item_code="LY-1", data=item("甲"), based_on=stale
        )
        with pytest.raises(PreconditionFailed) as refused:
            await service.write_draft(session, ADMIN, item_code="LY-1", data=item("乙"), based_on=stale)
    assert refused.value.slug == "stale-etag"
    assert refused.value.extra["current_etag"] == service.etag(edited) == '"LY-1-v1-r2"'


async def test_every_change_is_audited_with_who_when_old_and_new(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        v1 = await _draft_and_publish(session, "LY-1", "临时救助", None)
    async with tx() as session:
        await service.write_draft(
            session,
            ADMIN,
            item_code="LY-1",
            data=item("临时救助", promised_days=3, materials=[MaterialSpec(name="申请书")]),
            based_on=based_on(v1),
        )
    async with tx() as session:
        page = await audit.trail(session, entity="item", key="LY-1", after=None, limit=100)
        rows = [audit.read(r) for r in page.items]
    edit = {r.field: r for r in rows if r.action == "draft_created"}
    assert set(edit) == {"promised_days", "materials"}
    assert (edit["promised_days"].old_value, edit["promised_days"].new_value) == (5, 3)
    assert [m["name"] for m in edit["materials"].new_value] == ["申请书"]
    assert all(r.actor == "admin" and r.at is not None for r in rows)
    assert [r.action for r in rows if r.field == "state"] == ["published"]


async def test_audit_trail_pages_with_a_cursor(tx) -> None:
    async with tx() as session:
        for n in range(3):
            await service.upsert_org(session, code=TOWN, data=OrgUpsert(name=f"临邑镇{n}"), actor="admin")
    async with tx() as session:
        everything = [
            r.id for r in (await audit.trail(session, entity="org", key=TOWN, after=None, limit=200)).items
        ]
    assert len(everything) >= 5  # created (a row per field), then 3 renames
    seen: list[int | None] = []
    after: str | None = None
    pages = 0
    while True:
        async with tx() as session:
            page = await audit.trail(session, entity="org", key=TOWN, after=after, limit=2)
        seen += [r.id for r in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == everything and pages == (len(everything) + 1) // 2


async def test_retired_item_leaves_the_catalogue_and_emits_item_retired(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        v1 = await _draft_and_publish(session, "LY-1", "临时救助", None)
    async with tx() as session:
        await service.retire_item(
            session, ADMIN, item_code="LY-1", based_on=based_on(v1), reason="并入其他事项"
        )
    async with tx() as session:
        assert await service_offers(session) == []
        assert (await service.current_version(session, "LY-1")).state == VersionState.retired
    retired = await events(engine, "item.retired")
    assert [(e["data"]["version_no"], e["data"]["reason"]) for e in retired] == [(1, "并入其他事项")]


async def test_same_content_publishes_no_new_version_and_no_event(engine: AsyncEngine) -> None:
    await publish(engine, "LY-1", item())
    await publish(engine, "LY-1", item())
    await publish(engine, "LY-1", item(promised_days=4))
    assert [e["data"]["version_no"] for e in await events(engine, "item.published")] == [1, 2]


@pytest.mark.parametrize("who", [CLERK, FOREIGN_ADMIN], ids=["clerk", "another-county-admin"])
async def test_only_an_admin_governing_the_owner_may_write(engine: AsyncEngine, tx, who: Principal) -> None:
    await publish(engine, "LY-1", item())
    with pytest.raises(Forbidden):
        async with tx() as session:
            await service.write_draft(session, who, item_code="LY-1", data=item("改"), based_on=ANY_VERSION)


@pytest.mark.parametrize(
    ("who", "slug"),
    [(CLERK, "role-required"), (FOREIGN_ADMIN, "outside-jurisdiction"), (TOWN_ADMIN, "outside-jurisdiction")],
    ids=["clerk", "another-county-admin", "admin-of-a-town-below"],
)
async def test_only_an_admin_governing_the_owner_may_publish_or_retire(
    engine: AsyncEngine, tx, who: Principal, slug: str
) -> None:
    await publish(engine, "LY-1", item())  # owned by the county
    async with tx() as session:
        await service.write_draft(session, ADMIN, item_code="LY-1", data=item("改"), based_on=ANY_VERSION)
    with pytest.raises(Forbidden) as refused:
        async with tx() as session:
            await service.publish_draft(session, who, item_code="LY-1", based_on=ANY_VERSION)
    assert refused.value.slug == slug
    with pytest.raises(Forbidden) as refused:
        async with tx() as session:
            await service.retire_item(session, who, item_code="LY-1", based_on=ANY_VERSION, reason=None)
    assert refused.value.slug == slug
    async with tx() as session:
        assert (await service.current_version(session, "LY-1")).state == VersionState.published
        assert (await service.draft_of(session, "LY-1")).content["name"] == "改"


async def test_item_draft_is_read_only_by_an_admin_of_its_area(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        await service.write_draft(session, TOWN_ADMIN, item_code="LY-T1", data=item("镇事项"), based_on=None)
    async with tx() as session:
        assert (await service.read_draft(session, TOWN_ADMIN, "LY-T1")).content["name"] == "镇事项"
        assert (await service.read_draft(session, ADMIN, "LY-T1")).content["name"] == "镇事项"  # above
    for who, slug in [(FOREIGN_ADMIN, "outside-jurisdiction"), (CLERK, "role-required")]:
        with pytest.raises(Forbidden) as refused:
            async with tx() as session:
                await service.read_draft(session, who, "LY-T1")
        assert refused.value.slug == slug
    other_town_admin = Principal("admin-other", ("admin",), "371424202000")
    with pytest.raises(Forbidden):
        async with tx() as session:
            await service.read_draft(session, other_town_admin, "LY-T1")
    with pytest.raises(Forbidden):
        async with tx() as session:
            await service.item_audit(session, FOREIGN_ADMIN, "LY-T1", after=None, limit=10)
    # A draft version is, to anyone but an admin of its unit, a version that does not exist.
    outsiders: list[Principal | None] = [None, CLERK, FOREIGN_ADMIN, other_town_admin]
    for who in outsiders:
        with pytest.raises(NotFound):
            async with tx() as session:
                await service.visible_version(session, who, "LY-T1", 1)
        async with tx() as session:
            assert await service.visible_versions(session, who, "LY-T1") == []
    async with tx() as session:
        assert (await service.visible_version(session, ADMIN, "LY-T1", 1)).state == VersionState.draft
        assert [v.state for v in await service.visible_versions(session, TOWN_ADMIN, "LY-T1")] == ["draft"]


async def test_a_new_item_belongs_to_its_creators_unit(engine: AsyncEngine, tx) -> None:
    async with tx() as session:
        await service.write_draft(session, TOWN_ADMIN, item_code="LY-T1", data=item(), based_on=None)
        assert (await service.get_item(session, "LY-T1")).owner_org == TOWN
    await publish(engine, "LY-C1", item())
    async with tx() as session:
        assert (await service.get_item(session, "LY-C1")).owner_org == COUNTY


async def test_item_published_event_carries_what_consumers_need(engine: AsyncEngine) -> None:
    await publish(engine, "LY-1", item(item_type="05", co_departments=["民政所"], result_name="救助金"))
    data = (await events(engine, "item.published"))[0]["data"]
    assert {"item_code", "version_no", "name", "deciding_level", "agent_may_take", "immediate"} <= data.keys()
    assert data["promised_days"] == 5 and data["legal_days"] == 10 and data["item_type"] == "05"
    assert [(m["name"], m["required"], m["copies"]) for m in data["materials"]] == [
        ("申请书", True, 0),
        ("居民身份证", True, 1),
    ]
    assert data["co_departments"] == ["民政所"] and data["owner_org"] == "371424000000"
