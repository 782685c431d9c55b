"""Items and their versions: draft → published → retired, never an edit in place, If-Match, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from services.catalogue import audit, service
from services.catalogue.etags import PreconditionRequired
from services.catalogue.models import ImmutableVersion, ItemVersion, VersionState
from services.catalogue.schemas import MaterialSpec
from shared.auth import Principal
from shared.errors import Forbidden, NotFound, PreconditionFailed
from tests.catalogue.conftest import ADMIN, CLERK, FOREIGN_ADMIN, events, item, publish


def _draft_and_publish(session: Session, code: str, name: str, if_match: str | None) -> ItemVersion:
    draft, _ = service.write_draft(session, ADMIN, item_code=code, data=item(name), if_match=if_match)
    return service.publish_draft(session, ADMIN, item_code=code, if_match=service.etag(draft))


def test_new_item_is_a_draft_nobody_sees_until_published(engine: Engine, tx) -> None:
    with tx() as session:
        draft, created = service.write_draft(session, ADMIN, item_code="LY-1", data=item(), if_match=None)
    assert created and draft.version_no == 1 and draft.state == VersionState.draft
    with tx() as session, pytest.raises(NotFound):
        service.current_version(session, "LY-1")
    assert events(engine) == []
    with tx() as session:
        live = service.publish_draft(session, ADMIN, item_code="LY-1", if_match=service.etag(draft))
    assert live.state == VersionState.published
    assert [e["data"]["version_no"] for e in events(engine, "item.published")] == [1]


def test_published_version_never_changes(engine: Engine, tx) -> None:
    with tx() as session:
        v1 = _draft_and_publish(session, "LY-1", "临时救助", None)
        before = dict(v1.content)
    with tx() as session:
        draft, _ = service.write_draft(
            session,
            ADMIN,
            item_code="LY-1",
            data=item("临时救助(急难型)", promised_days=3),
            if_match=service.etag(v1),
        )
        service.publish_draft(session, ADMIN, item_code="LY-1", if_match=service.etag(draft))
    with Session(engine) as session:
        old = service.get_version(session, "LY-1", 1)
        assert old.content == before and old.state == VersionState.retired and old.superseded_by == 2
        # Not even a code path that forgets the rule can change it: the table refuses.
        old.content = {**old.content, "name": "改名"}
        session.add(old)
        with pytest.raises(ImmutableVersion):
            session.flush()


def test_editing_makes_a_draft_while_the_published_version_stays_live(engine: Engine, tx) -> None:
    with tx() as session:
        v1 = _draft_and_publish(session, "LY-1", "临时救助", None)
    with tx() as session:
        draft, created = service.write_draft(
            session, ADMIN, item_code="LY-1", data=item("临时救助(新)"), if_match=service.etag(v1)
        )
    assert created and draft.version_no == 2
    with tx() as session:
        live = service.current_version(session, "LY-1")
        assert live.version_no == 1 and live.content["name"] == "临时救助"
        assert {o.version.item_code: o.version.version_no for o in service_offers(session)} == {"LY-1": 1}
    assert len(events(engine, "item.published")) == 1


def service_offers(session: Session):  # type: ignore[no-untyped-def]
    from services.catalogue.directories import find_offers

    return find_offers(session, org_code=None, q=None)


def test_publishing_the_draft_supersedes_the_live_version(engine: Engine, tx) -> None:
    with tx() as session:
        v1 = _draft_and_publish(session, "LY-1", "临时救助", None)
        v2 = _draft_and_publish(session, "LY-1", "临时救助(新)", service.etag(v1))
    assert v2.version_no == 2
    with tx() as session:
        assert service.current_version(session, "LY-1").version_no == 2
        assert [v.state for v in service.versions(session, "LY-1", include_drafts=True)] == [
            "retired",
            "published",
        ]
    published = events(engine, "item.published")
    assert [(e["data"]["version_no"], e["data"]["supersedes"]) for e in published] == [(1, None), (2, 1)]


def test_stale_if_match_is_412_and_a_missing_one_428(engine: Engine, tx) -> None:
    with tx() as session:
        draft, _ = service.write_draft(session, ADMIN, item_code="LY-1", data=item(), if_match=None)
        stale = service.etag(draft)
    with tx() as session:
        service.write_draft(session, ADMIN, item_code="LY-1", data=item("甲"), if_match=stale)
    with tx() as session, pytest.raises(PreconditionFailed):
        service.write_draft(session, ADMIN, item_code="LY-1", data=item("乙"), if_match=stale)
    with tx() as session, pytest.raises(PreconditionRequired):
        service.write_draft(session, ADMIN, item_code="LY-1", data=item("乙"), if_match=None)
    with tx() as session, pytest.raises(PreconditionFailed):
        service.publish_draft(session, ADMIN, item_code="LY-1", if_match=stale)
    with tx() as session:
        assert service.draft_of(session, "LY-1").content["name"] == "甲"  # the first writer's, not lost


def test_every_change_is_audited_with_who_when_old_and_new(engine: Engine, tx) -> None:
    with tx() as session:
        v1 = _draft_and_publish(session, "LY-1", "临时救助", None)
    with tx() as session:
        service.write_draft(
            session,
            ADMIN,
            item_code="LY-1",
            data=item("临时救助", promised_days=3, materials=[MaterialSpec(name="申请书")]),
            if_match=service.etag(v1),
        )
    with tx() as session:
        rows = [audit.read(r) for r in audit.trail(session, entity="item", key="LY-1", after=None, limit=100)]
    edit = {r.field: r for r in rows if r.action == "draft_created"}
    assert set(edit) == {"promised_days", "materials"}
    assert (edit["promised_days"].old_value, edit["promised_days"].new_value) == (5, 3)
    assert [m["name"] for m in edit["materials"].new_value] == ["申请书"]
    assert all(r.actor == "admin" and r.at is not None for r in rows)
    assert [r.action for r in rows if r.field == "state"] == ["published"]


def test_retired_item_leaves_the_catalogue_and_emits_item_retired(engine: Engine, tx) -> None:
    with tx() as session:
        v1 = _draft_and_publish(session, "LY-1", "临时救助", None)
    with tx() as session:
        service.retire_item(
            session, ADMIN, item_code="LY-1", if_match=service.etag(v1), reason="并入其他事项"
        )
    with tx() as session:
        assert service_offers(session) == []
        assert service.current_version(session, "LY-1").state == VersionState.retired
    retired = events(engine, "item.retired")
    assert [(e["data"]["version_no"], e["data"]["reason"]) for e in retired] == [(1, "并入其他事项")]


def test_same_content_publishes_no_new_version_and_no_event(engine: Engine) -> None:
    publish(engine, "LY-1", item())
    publish(engine, "LY-1", item())
    publish(engine, "LY-1", item(promised_days=4))
    assert [e["data"]["version_no"] for e in events(engine, "item.published")] == [1, 2]


@pytest.mark.parametrize("who", [CLERK, FOREIGN_ADMIN], ids=["clerk", "another-county-admin"])
def test_only_an_admin_governing_the_owner_may_write(engine: Engine, tx, who: Principal) -> None:
    publish(engine, "LY-1", item())
    with tx() as session, pytest.raises(Forbidden):
        service.write_draft(session, who, item_code="LY-1", data=item("改"), if_match="*")


def test_item_published_event_carries_what_consumers_need(engine: Engine) -> None:
    publish(engine, "LY-1", item(item_type="05", co_departments=["民政所"], result_name="救助金"))
    data = events(engine, "item.published")[0]["data"]
    assert {"item_code", "version_no", "name", "deciding_level", "agent_may_take", "immediate"} <= data.keys()
    assert data["promised_days"] == 5 and data["legal_days"] == 10 and data["item_type"] == "05"
    assert [(m["name"], m["required"], m["copies"]) for m in data["materials"]] == [
        ("申请书", True, 0),
        ("居民身份证", True, 1),
    ]
    assert data["co_departments"] == ["民政所"] and data["owner_org"] == "371424000000"
